package tcp

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// stTests are the state-machine scripts whose transitions
// TestState_DiagramCoverage collects.
var stTests = []struct {
	name string
	fn   func(*testing.T)
}{
	{"ClosedToSynSent", TestState_ClosedToSynSent_RFC9293_3_10_1},
	{"ClosedToSynSent_Timestamps", TestState_ClosedToSynSent_Timestamps_RFC7323},
	{"SynSentToEstablished", TestState_SynSentToEstablished_RFC9293_3_10_7_3},
	{"SynSentToEstablished_Timestamps", TestState_SynSentToEstablished_Timestamps_RFC7323_4_3},
	{"ClosedToListen", TestState_ClosedToListen_RFC9293_3_10_1},
	{"ListenToSynRcvd", TestState_ListenToSynRcvd_RFC9293_3_10_7_2},
	{"ListenToSynRcvd_Timestamps", TestState_ListenToSynRcvd_Timestamps_RFC7323},
	{"ListenIgnoresRSTAndResetsACK", TestState_ListenIgnoresRSTAndResetsACK_RFC9293_3_10_7_2},
	{"SynRcvdToEstablished", TestState_SynRcvdToEstablished_RFC9293_3_10_7_4},
	{"SynRcvdBadAck", TestState_SynRcvdBadAck_RFC9293_3_10_7_4},
	{"SynRcvdSynAckRetransmission", TestState_SynRcvdSynAckRetransmission_Linux},
	{"SynRcvdRetransmittedSyn", TestState_SynRcvdRetransmittedSyn_Linux},
	{"SynSentRetransmission", TestState_SynSentRetransmission_Linux6},
	{"SynSentRetransmission_Timestamps", TestState_SynSentRetransmission_Timestamps},
	{"SimultaneousOpen", TestState_SynSentToSynRcvd_SimultaneousOpen_RFC9293_3_10_7_3},
	{"SimultaneousOpenAck", TestState_SimultaneousOpenAck_RFC9293_3_10_7_4},
	{"SynRcvdClose", TestState_SynRcvdClose_RFC9293_3_10_4},
	{"SynSentRST", TestState_SynSentRST_RFC9293_3_10_7_3},
	{"SynSentBadAck", TestState_SynSentBadAck_RFC9293_3_10_7_3},
	{"SynSentClose", TestState_SynSentClose_RFC9293_3_10_4},
	{"ListenClose", TestState_ListenClose_RFC9293_3_10_4},
	{"EstablishedToFinWait1", TestState_EstablishedToFinWait1_RFC9293_3_10_4},
	{"FinWait1ToFinWait2", TestState_FinWait1ToFinWait2_RFC9293_3_10_7_4},
	{"FinWait2ToTimeWait", TestState_FinWait2ToTimeWait_RFC9293_3_10_7_4},
	{"FinWait1ToClosingToTimeWait", TestState_FinWait1ToClosingToTimeWait_RFC9293_3_10_7_4},
	{"FinWait1ToTimeWait", TestState_FinWait1ToTimeWait_RFC9293_3_10_7_4},
	{"FinWait1DataAndFinAck", TestState_FinWait1DataAndFinAck_RFC9293_3_10_7_4},
	{"EstablishedToCloseWait", TestState_EstablishedToCloseWait_RFC9293_3_10_7_4},
	{"CloseWaitToLastAckToClosed", TestState_CloseWaitToLastAckToClosed_RFC9293_3_10_7_4},
	{"LastAckFinRetransmission", TestState_LastAckFinRetransmission_RFC6298_5},
	{"FinWait1FinRetransmission", TestState_FinWait1FinRetransmission_RFC6298_5},
	{"TimeWaitExpires", TestState_TimeWaitExpires_RFC9293_3_10_8},
	{"TimeWaitFinRetransmission", TestState_TimeWaitFinRetransmission_RFC9293_3_10_7_4},
	{"TimeWaitRST", TestState_TimeWaitRST_RFC9293_3_10_7_4},
	{"TimeWaitRST_RFC1337", TestState_TimeWaitRST_RFC1337},
	{"HalfClose_ShutdownWrite", TestState_HalfClose_ShutdownWrite_RFC9293_3_10_4},
	{"HalfClose_PeerShutsDown", TestState_HalfClose_PeerShutsDown_RFC9293_3_10_7_4},
	{"CloseWithUnreadData", TestState_CloseWithUnreadData_RFC2525_2_17},
	{"CloseWithUnreadData_Timestamps", TestState_CloseWithUnreadData_Timestamps},
	{"CloseAfterReadingEverything", TestState_CloseAfterReadingEverything_RFC9293_3_10_4},
	{"LingerZero", TestState_LingerZero_Linux},
	{"OrphanFinWait2Timeout", TestState_OrphanFinWait2Timeout_Linux},
	{"DataAfterClose_FinWait1", TestState_DataAfterClose_FinWait1_RFC1122_4_2_2_13},
	{"DataAfterClose_FinWait2", TestState_DataAfterClose_FinWait2_RFC1122_4_2_2_13},
	{"Abort", TestState_Abort_RFC9293_3_10_5},
	{"RSTInSynchronizedStates", TestState_RSTInSynchronizedStates_RFC5961_3_2},
	{"RSTWithAckInEstablished", TestState_RSTWithAckInEstablished_RFC9293_3_10_7_4},
	{"RSTInSynRcvd", TestState_RSTInSynRcvd_RFC9293_3_10_7_4},
	{"RSTInSimultaneousSynRcvd", TestState_RSTInSimultaneousSynRcvd_RFC9293_3_10_7_4},
	{"SynInEstablished", TestState_SynInEstablished_RFC5961_4_2},
	{"SynInCloseWait", TestState_SynInCloseWait_RFC5961_4_2},
	{"FinWithoutAck", TestState_FinWithoutAck_RFC5961_5_2},
	{"AckOfUnsentData", TestState_AckOfUnsentData_RFC9293_3_10_7_4},
	{"NoAckInEstablished", TestState_NoAckInEstablished_RFC9293_3_10_7_4},
	{"SegmentsToClosed", TestState_SegmentsToClosed_RFC9293_3_10_7_1},
}

// stDiagramEdge is one transition the engine may make, with the rule behind
// it.
type stDiagramEdge struct {
	from, to State
	cause    Cause
	rule     string
	// untested explains why no script can exercise the edge ("" when one
	// must).
	untested string
}

// stDiagram is every transition of RFC 9293's Figure 5, the transitions the
// RFC's event processing (3.10) adds, and the ones Linux adds.
var stDiagram = []stDiagramEdge{
	// RFC 9293 Figure 5.
	{Closed, Listen, CausePassiveOpen, "Fig. 5: passive OPEN / create TCB", ""},
	{Closed, SynSent, CauseActiveOpen, "Fig. 5: active OPEN / snd SYN", ""},
	{Listen, Closed, CauseCloseInListen, "Fig. 5: CLOSE / delete TCB", ""},
	{Listen, SynReceived, CauseSynReceived, "Fig. 5: rcv SYN / snd SYN,ACK", ""},
	{Listen, SynSent, "", "Fig. 5: SEND / snd SYN",
		"SEND in LISTEN is optional in RFC 9293 and absent from Linux and synfin: Write in LISTEN returns ENOTCONN"},
	{SynSent, SynReceived, CauseSimultaneousOpen, "Fig. 5: rcv SYN / snd SYN,ACK (simultaneous open)", ""},
	{SynSent, Closed, CauseCloseInSynSent, "Fig. 5: CLOSE / delete TCB", ""},
	{SynSent, Established, CauseSynAckReceived, "Fig. 5: rcv SYN,ACK / snd ACK", ""},
	{SynReceived, Listen, CauseResetInSynRcvd, "Fig. 5: rcv RST (passive open)", ""},
	{SynReceived, Established, CauseHandshakeAck, "Fig. 5: rcv ACK of SYN", ""},
	{SynReceived, FinWait1, CauseClose, "Fig. 5: CLOSE / snd FIN", ""},
	{Established, FinWait1, CauseClose, "Fig. 5: CLOSE / snd FIN", ""},
	{Established, CloseWait, CauseFinReceived, "Fig. 5: rcv FIN / snd ACK", ""},
	{FinWait1, FinWait2, CauseFinAcked, "Fig. 5: rcv ACK of FIN", ""},
	{FinWait1, Closing, CauseFinReceived, "Fig. 5: rcv FIN / snd ACK", ""},
	{FinWait2, TimeWait, CauseFinReceived, "Fig. 5: rcv FIN / snd ACK", ""},
	{CloseWait, LastAck, CauseClose, "Fig. 5: CLOSE / snd FIN", ""},
	{Closing, TimeWait, CauseClosingAcked, "Fig. 5: rcv ACK of FIN", ""},
	{LastAck, Closed, CauseLastAckAcked, "Fig. 5: rcv ACK of FIN", ""},
	{TimeWait, Closed, CauseTimeWaitExpired, "Fig. 5: Timeout=2MSL / delete TCB", ""},

	// RFC 9293 3.10: event processing beyond the figure.
	{FinWait1, TimeWait, CauseFinAckReceived, "3.10.7.4 eighth check: FIN acking our FIN in FIN-WAIT-1", ""},
	{Established, FinWait1, CauseShutdownWrite, "3.10.4 CLOSE as shutdown(SHUT_WR)", ""},
	{CloseWait, LastAck, CauseShutdownWrite, "3.10.4 CLOSE as shutdown(SHUT_WR)", ""},
	{SynSent, Closed, CauseResetInSynSent, "3.10.7.3: RST acking our SYN (connection refused)", ""},
	{SynReceived, Closed, CauseResetReceived, "3.10.7.4 second check: RST in SYN-RECEIVED of an active open", ""},
	{Established, Closed, CauseResetReceived, "3.10.7.4 second check: RST", ""},
	{FinWait1, Closed, CauseResetReceived, "3.10.7.4 second check: RST", ""},
	{FinWait2, Closed, CauseResetReceived, "3.10.7.4 second check: RST", ""},
	{CloseWait, Closed, CauseResetReceived, "3.10.7.4 second check: RST", ""},
	{Closing, Closed, CauseResetReceived, "3.10.7.4 second check: RST", ""},
	{LastAck, Closed, CauseResetReceived, "3.10.7.4 second check: RST", ""},
	{TimeWait, Closed, CauseResetReceived, "3.10.7.4 second check: RST (unless RFC 1337)", ""},
	{Listen, Closed, CauseAbort, "3.10.5 ABORT", ""},
	{SynSent, Closed, CauseAbort, "3.10.5 ABORT", ""},
	{SynReceived, Closed, CauseAbort, "3.10.5 ABORT: RST", ""},
	{Established, Closed, CauseAbort, "3.10.5 ABORT: RST", ""},
	{FinWait1, Closed, CauseAbort, "3.10.5 ABORT: RST", ""},
	{FinWait2, Closed, CauseAbort, "3.10.5 ABORT: RST", ""},
	{CloseWait, Closed, CauseAbort, "3.10.5 ABORT: RST", ""},
	{Closing, Closed, CauseAbort, "3.10.5 ABORT", ""},
	{LastAck, Closed, CauseAbort, "3.10.5 ABORT", ""},
	{TimeWait, Closed, CauseAbort, "3.10.5 ABORT", ""},
	{SynSent, Closed, CauseSynTimeout, "3.8.3 R2 for SYN (tcp_syn_retries + tcp_syn_linear_timeouts)", ""},

	// Linux.
	{SynReceived, Listen, CauseSynAckTimeout, "Linux: tcp_synack_retries exhausted, request dropped", ""},
	{Established, Closed, CauseCloseUnreadData, "Linux / RFC 2525 2.17: close with unread data sends RST", ""},
	{Established, Closed, CauseLingerZero, "Linux: SO_LINGER {1, 0} close sends RST", ""},
	{FinWait2, Closed, CauseFinWait2Timeout, "Linux: orphaned FIN_WAIT_2 after tcp_fin_timeout", ""},
	{FinWait1, Closed, CauseDataAfterClose, "Linux / RFC 1122 4.2.2.13: data after close gets RST", ""},
	{FinWait2, Closed, CauseDataAfterClose, "Linux / RFC 1122 4.2.2.13: data after close gets RST", ""},
}

type stCauseEdge struct {
	from, to State
	cause    Cause
}

var (
	stCauseEdgesMu sync.Mutex
	stCauseEdges   = map[stCauseEdge]int{}
)

func stNoteCauseEdge(e Event) {
	stCauseEdgesMu.Lock()
	stCauseEdges[stCauseEdge{e.Old, e.New, e.Cause}]++
	stCauseEdgesMu.Unlock()
}

// TestState_DiagramCoverage runs every state script and checks that, between
// them, they exercise every transition of the table above (RFC 9293 Figure 5,
// the transitions of section 3.10 and Linux's own), and that no script made a
// transition the table does not list.
func TestState_DiagramCoverage(t *testing.T) {
	stCauseEdgesMu.Lock()
	stCauseEdges = map[stCauseEdge]int{}
	stCauseEdgesMu.Unlock()
	for _, st := range stTests {
		t.Run(st.name, st.fn)
	}
	if t.Failed() {
		t.Fatal("a state script failed; coverage not checked")
	}
	stCauseEdgesMu.Lock()
	defer stCauseEdgesMu.Unlock()
	listed := map[stCauseEdge]bool{}
	for _, d := range stDiagram {
		e := stCauseEdge{d.from, d.to, d.cause}
		listed[e] = true
		n := stCauseEdges[e]
		switch {
		case d.untested != "":
			if n > 0 {
				t.Errorf("%v -> %v (%s) is marked untested but was exercised", d.from, d.to, d.rule)
			} else {
				t.Logf("not exercised: %v -> %v (%s): %s", d.from, d.to, d.rule, d.untested)
			}
		case n == 0:
			t.Errorf("no script exercises %v -> %v [%s] (%s)", d.from, d.to, d.cause, d.rule)
		}
	}
	var extra []string
	for e, n := range stCauseEdges {
		if !listed[e] {
			extra = append(extra, e.from.String()+" -> "+e.to.String()+" ["+string(e.cause)+"] x"+strconv.Itoa(n))
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("transitions not in the diagram table:\n\t%s", strings.Join(extra, "\n\t"))
	}
	// Every pair of states the figure connects is covered (whatever the
	// cause), checked once more on the (old, new) pairs alone.
	pairs := map[stEdge]bool{}
	for e := range stCauseEdges {
		pairs[stEdge{e.from, e.to}] = true
	}
	for _, d := range stDiagram {
		if d.untested == "" && !pairs[stEdge{d.from, d.to}] {
			t.Errorf("pair %v -> %v never seen", d.from, d.to)
		}
	}
}
