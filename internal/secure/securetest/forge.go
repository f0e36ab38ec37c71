// Package securetest is what the tests of secure, and of what runs over it,
// share: the attacker's side (handshake initiations forged from the
// protocol's description, docs/PROTOCOL.md, with only public keys, as anyone
// on the path can), conns on udptest's network or on loopback sockets, a
// reader and a recorder of datagrams, a trust-on-first-use store, and a
// secure conn's making and drop counts (NewConn, DiffDrops). It does not
// import secure (what those two need of it, the caller passes in), so
// secure's own tests use it too, and its forgeries getting past mac1 there
// checks that both follow the same description.
package securetest

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/flynn/noise"
	"golang.org/x/crypto/blake2s"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// What PROTOCOL.md names: the Noise prologue and the label of mac1's key.
const (
	prologue  = "udpchat v1"
	labelMAC1 = "udpchat v1 mac1"
)

var cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// ForgeInitiation builds a well-formed initiation the way an attacker can:
// a random ephemeral key for XX; for IK, a fresh random identity addressed to
// responder. mac1 is right (it needs only public keys), mac2 is zero.
func ForgeInitiation(ik bool, responder keys.PublicKey) []byte {
	var sender [4]byte
	rand.Read(sender[:])
	m := wire.Initiation{Type: wire.TypeInitXX, Sender: binary.BigEndian.Uint32(sender[:])}
	key := keys.PublicKey{}
	if ik {
		static, err := cipherSuite.GenerateKeypair(rand.Reader)
		if err != nil {
			panic(err)
		}
		st, err := noise.NewHandshakeState(noise.Config{
			CipherSuite:   cipherSuite,
			Pattern:       noise.HandshakeIK,
			Initiator:     true,
			Prologue:      []byte(prologue),
			StaticKeypair: static,
			PeerStatic:    responder[:],
		})
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
	return withMAC1(m.Append(nil), key)
}

// Readdress gives a copy of the initiation b a new sender index, with mac1
// recomputed as the forger can (responder is zero for XX).
func Readdress(b []byte, sender uint32, responder keys.PublicKey) []byte {
	c := append([]byte(nil), b...)
	binary.BigEndian.PutUint32(c[2:], sender)
	return withMAC1(c, responder)
}

// withMAC1 writes b's mac1: keyed BLAKE2s-128 of what comes before it, the
// key being BLAKE2s-256 of the label and the responder's public key.
func withMAC1(b []byte, responder keys.PublicKey) []byte {
	key := blake2s.Sum256(append([]byte(labelMAC1), responder[:]...))
	h, err := blake2s.New128(key[:])
	if err != nil {
		panic(err)
	}
	h.Write(b[:wire.InitMAC1Offset])
	h.Sum(b[wire.InitMAC1Offset:wire.InitMAC1Offset])
	return b
}
