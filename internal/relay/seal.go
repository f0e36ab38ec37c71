package relay

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/flynn/noise"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// Mail is sealed end to end with the one-way Noise pattern X
// (Noise_X_25519_ChaChaPoly_BLAKE2s), the suite the secure layer uses:
//
//   - only the holder of the recipient's static key opens it: the relay
//     that holds it, and anyone who reads the relay's disk, cannot;
//   - it carries the sender's static key encrypted, and proves it (the es
//     and ss Diffie-Hellmans), so the recipient learns who sent it and the
//     relay does not;
//   - it needs no answer, as mail to someone offline must not.
//
// NaCl's box would need the sender's key out of band and shows it to the
// relay; an anonymous sealed box proves nothing about the sender. What X
// cannot give, being one message, is forward secrecy against the
// recipient's key or replay protection: a relay may hand a blob over twice,
// so the recipient drops what it already has (by the message id inside).
var mailSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// mailPrologue binds a sealed mail to its use, so no other Noise message
// made with the same keys opens as one.
var mailPrologue = []byte("udpchat mail 1")

// MailSealOverhead is what sealing adds: the ephemeral key (32), the
// sender's static key encrypted (32 + 16) and the payload's tag (16).
const MailSealOverhead = 32 + 32 + 16 + 16

// MaxMailMessage is the largest message SealMail seals into a blob one
// mail put carries.
const MaxMailMessage = wire.MaxMailBlob - MailSealOverhead

// ErrMailOpen is returned by OpenMail for a blob that is not mail for us.
var ErrMailOpen = errors.New("relay: mail does not open with this key: damaged, or for someone else")

// SealMail seals msg from the holder of from for the holder of to.
func SealMail(from keys.PrivateKey, to keys.PublicKey, msg []byte) ([]byte, error) {
	if len(msg) > MaxMailMessage {
		return nil, fmt.Errorf("relay: a mail of %d bytes, over %d", len(msg), MaxMailMessage)
	}
	pub := from.Public()
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   mailSuite,
		Random:        rand.Reader,
		Pattern:       noise.HandshakeX,
		Initiator:     true,
		Prologue:      mailPrologue,
		StaticKeypair: noise.DHKey{Private: from[:], Public: pub[:]},
		PeerStatic:    to[:],
	})
	if err != nil {
		return nil, fmt.Errorf("relay: seal mail: %w", err)
	}
	out, _, _, err := hs.WriteMessage(make([]byte, 0, len(msg)+MailSealOverhead), msg)
	if err != nil {
		return nil, fmt.Errorf("relay: seal mail: %w", err)
	}
	return out, nil
}

// OpenMail opens a blob SealMail sealed for to's holder and returns who
// sealed it and what.
func OpenMail(to keys.PrivateKey, blob []byte) (from keys.PublicKey, msg []byte, err error) {
	pub := to.Public()
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   mailSuite,
		Random:        rand.Reader,
		Pattern:       noise.HandshakeX,
		Prologue:      mailPrologue,
		StaticKeypair: noise.DHKey{Private: to[:], Public: pub[:]},
	})
	if err != nil {
		return from, nil, fmt.Errorf("relay: open mail: %w", err)
	}
	msg, _, _, err = hs.ReadMessage(nil, blob)
	if err != nil {
		return from, nil, ErrMailOpen
	}
	copy(from[:], hs.PeerStatic())
	return from, msg, nil
}
