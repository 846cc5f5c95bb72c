//go:build amd64 && !purego

#include "textflag.h"

// The Internet checksum (RFC 1071) with AVX2, 32 octets per instruction.
//
// The sum is of 16-bit words, but since 2^16 = 1 (mod 2^16 - 1) it may be
// taken over wider words and folded at the end (RFC 1071 2(C)), and in
// either byte order with one swap of the folded sum (RFC 1071 2(B)). Here
// the wide words are the little-endian 32-bit halves of each 64-bit lane:
// every vector of data x is added whole to an accumulator A (mod 2^64 per
// lane) and, shifted right by 32, to an accumulator H, which collects the
// high halves exactly. The low halves need no instruction of their own:
// their sum is L = A - (H << 32) (mod 2^64), exact because the true L fits
// in 64 bits too. Three vector operations per 32 octets, no carries to
// track. For at most 2^32 octets a lane adds at most 2^27 values below 2^32
// to each of L and H, so L + H < 2^60 per lane and the four lanes add up
// to less than 2^62.
//
// The 0-31 octets after the last whole vector are added to that 64-bit sum
// with end-around carry (ADC) in general registers; the last 1-7 come from
// one 8-octet load that ends where the data end, shifted right to drop the
// octets already counted (so the data must be at least 8 octets long). The
// 64-bit sum is then folded to 16 bits with end-around carry, byte-swapped
// into network order and added to the caller's accumulator.
//
// Every step keeps a non-zero sum non-zero, so data of all zeros is the
// only input that sums to +0, as in RFC 1071's reference loop.

// SUM32(off) adds the 32 octets at off(SI) into the accumulators A (Y0)
// and H (Y1), using Y4.
#define SUM32(off) \
	VMOVDQU off(SI), Y4 \
	VPADDQ  Y4, Y0, Y0 \
	VPSRLQ  $32, Y4, Y4 \
	VPADDQ  Y4, Y1, Y1

// LOAD128(off) loads the 128 octets at off(SI) into Y4-Y7.
#define LOAD128(off) \
	VMOVDQU off(SI), Y4 \
	VMOVDQU off+32(SI), Y5 \
	VMOVDQU off+64(SI), Y6 \
	VMOVDQU off+96(SI), Y7

// STORE128(off) stores Y4-Y7 at off(DI), before ADD128 shifts them.
#define STORE128(off) \
	VMOVDQU Y4, off(DI) \
	VMOVDQU Y5, off+32(DI) \
	VMOVDQU Y6, off+64(DI) \
	VMOVDQU Y7, off+96(DI)

// ADD128(a, h, a2, h2) adds Y4-Y7 into two accumulator pairs (a, h) and
// (a2, h2), alternating so that consecutive additions are independent.
#define ADD128(a, h, a2, h2) \
	VPADDQ Y4, a, a \
	VPSRLQ $32, Y4, Y4 \
	VPADDQ Y5, a2, a2 \
	VPSRLQ $32, Y5, Y5 \
	VPADDQ Y4, h, h \
	VPADDQ Y5, h2, h2 \
	VPADDQ Y6, a, a \
	VPSRLQ $32, Y6, Y6 \
	VPADDQ Y7, a2, a2 \
	VPSRLQ $32, Y7, Y7 \
	VPADDQ Y6, h, h \
	VPADDQ Y7, h2, h2

// REDUCE folds the accumulators A (Y0) and H (Y1) into AX (below 2^62),
// using Y2 and X1, and clears the upper halves of the YMM registers:
// Y0 = A - H<<32 + H = L + H per lane, then the four lanes added.
#define REDUCE \
	VPSLLQ       $32, Y1, Y2 \
	VPSUBQ       Y2, Y0, Y0 \
	VPADDQ       Y1, Y0, Y0 \
	VEXTRACTI128 $1, Y0, X1 \
	VPADDQ       X1, X0, X0 \
	VPSHUFD      $0x4e, X0, X1 \
	VPADDQ       X1, X0, X0 \
	VMOVQ        X0, AX \
	VZEROUPPER

// FINISH folds the 64-bit little-endian sum in AX to 16 bits with
// end-around carry, swaps its octets into network order, adds the
// accumulator initial+24(FP) with end-around carry and returns the result.
// Each end-around ADC cannot carry again: a carry out of an addition
// leaves at most 2^n - 2 in the register.
#define FINISH \
	MOVQ    AX, DX \
	SHRQ    $32, DX \
	ADDL    DX, AX \
	ADCL    $0, AX \
	MOVL    AX, DX \
	SHRL    $16, DX \
	ADDW    DX, AX \
	ADCW    $0, AX \
	ROLW    $8, AX \
	MOVWLZX AX, AX \
	ADDL    initial+24(FP), AX \
	ADCL    $0, AX \
	MOVL    AX, ret+32(FP) \
	RET

// func checksumAVX2(b []byte, initial uint32) uint32
// Checksum(b, initial) for 8 <= len(b) <= 2^32.
TEXT ·checksumAVX2(SB), NOSPLIT, $0-36
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX

	// Up to four (A, H) pairs, (Y0, Y1), (Y2, Y3), (Y8, Y9), (Y10, Y11),
	// so that no addition waits on the one before it.
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	CMPQ  CX, $256
	JB    sum128

	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11

loop256:
	LOAD128(0)
	ADD128(Y0, Y1, Y2, Y3)
	LOAD128(128)
	ADD128(Y8, Y9, Y10, Y11)
	ADDQ $256, SI
	SUBQ $256, CX
	CMPQ CX, $256
	JAE  loop256

	// Adding A accumulators may wrap mod 2^64, which L = A - H<<32
	// allows; H accumulators stay exact.
	VPADDQ Y8, Y0, Y0
	VPADDQ Y9, Y1, Y1
	VPADDQ Y10, Y2, Y2
	VPADDQ Y11, Y3, Y3

sum128:
	CMPQ CX, $128
	JB   merge
	LOAD128(0)
	ADD128(Y0, Y1, Y2, Y3)
	ADDQ $128, SI
	SUBQ $128, CX

merge:
	VPADDQ Y2, Y0, Y0
	VPADDQ Y3, Y1, Y1

sum32:
	CMPQ CX, $32
	JB   reduce
	SUM32(0)
	ADDQ $32, SI
	SUBQ $32, CX
	JMP  sum32

reduce:
	REDUCE

	// The 0-31 octets left.
	CMPQ CX, $16
	JB   tail8
	ADDQ 0(SI), AX
	ADCQ 8(SI), AX
	ADCQ $0, AX
	ADDQ $16, SI
	SUBQ $16, CX

tail8:
	CMPQ CX, $8
	JB   tail1
	ADDQ 0(SI), AX
	ADCQ $0, AX
	ADDQ $8, SI
	SUBQ $8, CX

tail1:
	TESTQ CX, CX
	JZ    finish
	// 1-7 octets: the last 8 octets of b, shifted right by 8 - CX octets,
	// are these octets zero-padded on the right, starting at an even
	// offset like every word before them.
	MOVQ -8(SI)(CX*1), DX
	NEGQ CX
	ADDQ $8, CX
	SHLQ $3, CX
	SHRQ CX, DX
	ADDQ DX, AX
	ADCQ $0, AX

finish:
	FINISH

// func copyChecksumAVX2(dst, src *byte, n int, initial uint32) uint32
// Copies n octets from src to dst, which do not overlap, and returns
// Checksum(src[:n], initial), for 8 <= n <= 2^32.
TEXT ·copyChecksumAVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	CMPQ  CX, $128
	JB    copymerge

copyloop128:
	LOAD128(0)
	STORE128(0)
	ADD128(Y0, Y1, Y2, Y3)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $128, CX
	CMPQ CX, $128
	JAE  copyloop128

copymerge:
	VPADDQ Y2, Y0, Y0
	VPADDQ Y3, Y1, Y1

copy32:
	CMPQ    CX, $32
	JB      copyreduce
	VMOVDQU 0(SI), Y4
	VMOVDQU Y4, 0(DI)
	VPADDQ  Y4, Y0, Y0
	VPSRLQ  $32, Y4, Y4
	VPADDQ  Y4, Y1, Y1
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $32, CX
	JMP     copy32

copyreduce:
	REDUCE

	CMPQ CX, $16
	JB   copytail8
	MOVQ 0(SI), DX
	MOVQ 8(SI), BX
	MOVQ DX, 0(DI)
	MOVQ BX, 8(DI)
	ADDQ DX, AX
	ADCQ BX, AX
	ADCQ $0, AX
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $16, CX

copytail8:
	CMPQ CX, $8
	JB   copytail1
	MOVQ 0(SI), DX
	MOVQ DX, 0(DI)
	ADDQ DX, AX
	ADCQ $0, AX
	ADDQ $8, SI
	ADDQ $8, DI
	SUBQ $8, CX

copytail1:
	TESTQ CX, CX
	JZ    copyfinish
	// 1-7 octets: as in checksumAVX2; the 8-octet store that ends where
	// dst ends rewrites octets already copied with the same values.
	MOVQ -8(SI)(CX*1), DX
	MOVQ DX, -8(DI)(CX*1)
	NEGQ CX
	ADDQ $8, CX
	SHLQ $3, CX
	SHRQ CX, DX
	ADDQ DX, AX
	ADCQ $0, AX

copyfinish:
	FINISH
