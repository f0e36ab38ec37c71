package secure

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// The MACs and cookies of handshake initiations, in WireGuard's style.
//
// mac1 = BLAKE2s-128(key = BLAKE2s-256(labelMAC1 ‖ K), the initiation up to
// mac1), where K is the responder's static public key for IK. An XX initiator
// does not know that key, so for XX, K is 32 zero bytes: mac1 then proves
// nothing about the sender and only filters junk cheaply.
//
// Under load a responder answers an initiation without a valid mac2 with a
// cookie reply instead of doing Diffie-Hellman work:
//
//	cookie = BLAKE2s-128(key = secret, source IP (16 bytes, IPv4 mapped) ‖ port (2 bytes))
//
// where secret is random and replaced every cookieLifetime. The cookie goes
// back sealed with XChaCha20-Poly1305 under BLAKE2s-256(labelCookie ‖ K), with
// the initiation's mac1 as additional data (so it answers that initiation
// only). The initiator then sends
//
//	mac2 = BLAKE2s-128(key = cookie, the initiation up to mac2)
//
// in its next initiations, proving it receives at its address. A responder
// keeps nothing per cookie: the address and the secret recreate it.

const (
	labelMAC1   = "udpchat v1 mac1"
	labelCookie = "udpchat v1 cookie"
	// cookieLifetime is how long a cookie secret is used to make cookies
	// (cookies from the one before it are still accepted, so at most twice
	// this long) and how long an initiator uses a cookie it got.
	cookieLifetime = 2 * time.Minute
)

// labelKey derives the mac1 or cookie-sealing key for the responder key k
// (zero for XX).
func labelKey(label string, k *keys.PublicKey) [32]byte {
	h, _ := blake2s.New256(nil)
	h.Write([]byte(label))
	h.Write(k[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// mac16 is keyed BLAKE2s-128 of msg.
func mac16(key []byte, msg []byte) [wire.MACLen]byte {
	h, err := blake2s.New128(key)
	if err != nil {
		panic(err) // only for an empty or over-long key: a bug here
	}
	h.Write(msg)
	var out [wire.MACLen]byte
	h.Sum(out[:0])
	return out
}

// addrBytes is the address a cookie is bound to.
func addrBytes(a netip.AddrPort) [18]byte {
	var b [18]byte
	ip := a.Addr().As16()
	copy(b[:], ip[:])
	binary.BigEndian.PutUint16(b[16:], a.Port())
	return b
}

// cookieJar is the responder's rotating cookie secret.
type cookieJar struct {
	mu       sync.Mutex // guards the fields below
	secret   [32]byte
	previous [32]byte
	rotated  time.Time // when secret was made; zero: none yet
	hasPrev  bool
}

// rotate replaces the secret if it is due; j.mu must be held.
func (j *cookieJar) rotateLocked(now time.Time) {
	if !j.rotated.IsZero() && now.Sub(j.rotated) < cookieLifetime {
		return
	}
	// A secret more than two lifetimes old is dropped, not kept as previous.
	j.hasPrev = !j.rotated.IsZero() && now.Sub(j.rotated) < 2*cookieLifetime
	j.previous = j.secret
	rand.Read(j.secret[:])
	j.rotated = now
}

// cookie returns the cookie for addr now.
func (j *cookieJar) cookie(addr netip.AddrPort, now time.Time) [wire.MACLen]byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.rotateLocked(now)
	a := addrBytes(addr)
	return mac16(j.secret[:], a[:])
}

// checkMAC2 reports whether the initiation b carries a valid mac2 for addr:
// made with the cookie of the current secret or of the one before.
func (j *cookieJar) checkMAC2(b []byte, addr netip.AddrPort, now time.Time) bool {
	got := b[wire.InitMAC2Offset:wire.InitiationLen]
	if subtle.ConstantTimeCompare(got, make([]byte, wire.MACLen)) == 1 {
		return false // no cookie
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.rotated.IsZero() {
		return false // we never gave out a cookie
	}
	j.rotateLocked(now)
	a := addrBytes(addr)
	secrets := [][]byte{j.secret[:]}
	if j.hasPrev {
		secrets = append(secrets, j.previous[:])
	}
	for _, s := range secrets {
		cookie := mac16(s, a[:])
		want := mac16(cookie[:], b[:wire.InitMAC2Offset])
		if subtle.ConstantTimeCompare(got, want[:]) == 1 {
			return true
		}
	}
	return false
}

// sealCookie makes the cookie reply to an initiation with index sender and
// mac1, sealed under key.
func sealCookie(key *[32]byte, sender uint32, mac1 [wire.MACLen]byte, cookie [wire.MACLen]byte) wire.CookieReply {
	r := wire.CookieReply{Receiver: sender}
	rand.Read(r.Nonce[:])
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		panic(err)
	}
	aead.Seal(r.Cookie[:0], r.Nonce[:], cookie[:], mac1[:])
	return r
}

// openCookie recovers the cookie from a reply to the initiation whose mac1
// was mac1.
func openCookie(key *[32]byte, r *wire.CookieReply, mac1 [wire.MACLen]byte) ([wire.MACLen]byte, bool) {
	var cookie [wire.MACLen]byte
	aead, err := chacha20poly1305.NewX(key[:])
	if err != nil {
		panic(err)
	}
	if _, err := aead.Open(cookie[:0], r.Nonce[:], r.Cookie[:], mac1[:]); err != nil {
		return [wire.MACLen]byte{}, false
	}
	return cookie, true
}
