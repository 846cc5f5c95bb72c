// Package interop proves that synfin interoperates with the Linux kernel's
// own TCP/IP stack: every test runs real kernel programs (curl, ping, ss,
// python3 sockets and http.server) against synfin over a TUN device, and
// checks what both sides say about it.
//
// # What the suite proves
//
//   - TestKernelCurlDownloadsFromSynfin: the kernel's curl downloads 100 MiB
//     from `synfin serve --http` intact (sha256), and the close is the
//     classic one: the kernel, which closed first, sits in TIME-WAIT while
//     synfin's side goes CLOSE_WAIT -> LAST_ACK -> CLOSED and disappears.
//   - TestSynfinGetDownloadsFromKernel: the reverse: `synfin get` downloads
//     100 MiB from python's http.server on the kernel's TCP, intact, on a
//     TUN device that already existed (created with `ip tuntap add`), and the
//     kernel (HTTP/1.0, closes first) ends in TIME-WAIT.
//   - TestHalfCloseKernelFirst: a kernel client sends 1 MiB to synfin's echo
//     service and shuts down its sending side; synfin goes on sending after
//     the kernel's FIN (proved from synfin's own packet capture) until the
//     whole 1 MiB is back; the kernel ends in TIME-WAIT, synfin with nothing.
//   - TestHalfCloseSynfinFirst: synfin in-process (the test's own
//     stack.Stack on a tun.Endpoint) sends 256 KiB and CloseWrite; the
//     kernel is seen in CLOSE-WAIT and synfin in FIN_WAIT_2 while the kernel
//     still sends 1 MiB back; then synfin is in TIME_WAIT and the kernel's
//     LAST-ACK socket is gone.
//   - TestPingSynfin: the kernel's ping, over IPv4 and IPv6, is answered by
//     synfin's ICMP and ICMPv6 echo (counted in synfin's stats).
//   - TestSynfinPcapOpensInTshark: the pcapng file of `synfin serve --pcap`
//     opens in tshark, with no malformed packet or bad checksum, and carries
//     synfin's state changes as packet comments.
//
// # Rules every test follows
//
//   - Each test creates its own network namespace, named
//     synfin-it-<pid of the test process>-<random hex>, brings its loopback
//     up and, in t.Cleanup, kills every process left inside it (`ip netns
//     pids`) and deletes it. TestMain deletes the namespaces that test
//     processes killed before their cleanup (their pid is gone) left behind.
//     TUN devices live inside the namespace, so their names only need to be
//     unique there.
//   - Only 10.99.x.x and fd99:: addresses are used, all inside the
//     namespace. The host namespace's interfaces and routes are never
//     touched, so the package can run in parallel with any other package's
//     tests.
//   - Time is bounded: every external process runs under a context
//     timeout and is killed when the test fails or ends; every wait for a
//     state is a poll with a deadline.
//   - The synfin binary is built once, in TestMain, from the module root
//     (found with `go env GOMOD`) into a temporary directory named after
//     the test process; TestMain removes those of dead processes.
//
// # Requirements
//
// The tests need root, /dev/net/tun and iproute2's ip and ss; some also need
// curl, ping (iputils-ping), python3 or tshark (scripts/deps.sh installs
// them). When something is missing a test is skipped with the reason, except
// under CI (CI=true), where it fails instead: in CI the suite must run.
package interop
