package secure

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"

	"github.com/flynn/noise"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// ForgeInitiation builds a well-formed initiation the way an attacker can:
// a random ephemeral key for XX; for IK, a fresh random identity addressed to
// responder. mac1 is right (it needs only public keys), mac2 is zero.
func ForgeInitiation(ik bool, responder keys.PublicKey) []byte {
	m := wire.Initiation{Type: wire.TypeInitXX, Sender: randUint32()}
	key := keys.PublicKey{}
	if ik {
		static, err := cipherSuite.GenerateKeypair(rand.Reader)
		if err != nil {
			panic(err)
		}
		st, err := noise.NewHandshakeState(noiseConfig(true, true, static, &responder))
		if err != nil {
			panic(err)
		}
		if m.Noise, _, _, err = st.WriteMessage(nil, nil); err != nil {
			panic(err)
		}
		m.Type, key = wire.TypeInitIK, responder
	} else {
		m.Noise = make([]byte, wire.NoiseInitXXLen)
		rand.Read(m.Noise)
	}
	b := m.Append(nil)
	k := labelKey(labelMAC1, &key)
	mac1 := mac16(k[:], b[:wire.InitMAC1Offset])
	copy(b[wire.InitMAC1Offset:], mac1[:])
	return b
}

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

// Readdress gives a copy of the initiation b a new sender index, with mac1
// recomputed as the forger can (responder is zero for XX).
func Readdress(b []byte, sender uint32, responder keys.PublicKey) []byte {
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint32(c[2:], sender)
	k := labelKey(labelMAC1, &responder)
	mac1 := mac16(k[:], c[:wire.InitMAC1Offset])
	copy(c[wire.InitMAC1Offset:], mac1[:])
	return c
}
