package secure

import (
	"net/netip"

	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/wire"
)

// ForgeInitiation is the attacker's forgery (securetest's), for the tests
// inside the package.
var ForgeInitiation = securetest.ForgeInitiation

// pipeConn is a udp.Conn for driving Conns by hand: writes collect in an
// outbox (copied into reused buffers, so steady-state writes do not
// allocate), reads are not used.
type pipeConn struct {
	local  netip.AddrPort
	outbox []sent
	n      int
}

type sent struct {
	b  []byte
	to netip.AddrPort
}

func (p *pipeConn) WriteTo(b []byte, to netip.AddrPort) (int, error) {
	if p.n == len(p.outbox) {
		p.outbox = append(p.outbox, sent{b: make([]byte, 0, wire.MaxDatagram)})
	}
	s := &p.outbox[p.n]
	s.b, s.to = append(s.b[:0], b...), to
	p.n++
	return len(b), nil
}

// take returns what was written since the last take (valid until the next
// writes).
func (p *pipeConn) take() []sent {
	out := p.outbox[:p.n]
	p.n = 0
	return out
}

func (p *pipeConn) ReadFrom([]byte) (int, netip.AddrPort, error) { select {} }
func (p *pipeConn) LocalAddr() netip.AddrPort                    { return p.local }
func (p *pipeConn) Close() error                                 { return nil }

// RaceEnabled is raceEnabled, for the external tests.
const RaceEnabled = raceEnabled
