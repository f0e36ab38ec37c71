package relaypath

import "github.com/udpchat/udpchat/internal/udp"

// batchMux is the mux over a socket that moves many datagrams a system
// call (udp.BatchConn: recvmmsg, sendmmsg, GSO): a secure layer over it
// batches as it does over the bare socket, so --relay costs direct paths
// nothing. Deliveries from the relay are read before the socket, as
// ReadFrom reads them; datagrams for relayed people go to the relay's
// queue one by one (WriteTo), the rest to the socket in runs.
type batchMux struct {
	*mux
	bc udp.BatchConn
}

var _ udp.BatchConn = (*batchMux)(nil)

// ReadBatch returns the deliveries waiting, if any, else what the socket
// has.
func (m *batchMux) ReadBatch(ms []udp.Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	if k := m.takePending(ms); k > 0 {
		return k, nil
	}
	n, err := m.bc.ReadBatch(ms)
	if n > 0 {
		m.noteHeard(ms[:n])
	}
	return n, err
}

// WriteBatch writes each run of ms for direct addresses in one socket
// batch, and each datagram for a relay handle as WriteTo does. It returns
// how many went, and the first error after the rest have gone.
func (m *batchMux) WriteBatch(ms []udp.Message) (int, error) {
	went := 0
	var first error
	note := func(n int, err error) {
		went += n
		if first == nil {
			first = err
		}
	}
	for len(ms) > 0 {
		run := 0
		for run < len(ms) && !IsHandle(ms[run].Addr) {
			run++
		}
		if run > 0 {
			note(m.bc.WriteBatch(ms[:run]))
			ms = ms[run:]
			continue
		}
		_, err := m.WriteTo(ms[0].Buf, ms[0].Addr)
		if err == nil {
			note(1, nil)
		} else {
			note(0, err)
		}
		ms = ms[1:]
	}
	return went, first
}
