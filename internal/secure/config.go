package secure

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
)

// Config sets up a Conn. Static is required; every other field has a
// default.
type Config struct {
	// Static is this user's identity key.
	Static keys.PrivateKey

	// KnownKey, if set, returns the static key we expect of peer (a handle,
	// as WriteTo takes): with one,
	// we open with Noise IK (one round trip, our identity sent only to the
	// holder of that key); without, with Noise XX, which learns the peer's
	// key. Called from WriteTo or ReadFrom with internal locks held: it must
	// not call back into the Conn.
	KnownKey func(peer netip.AddrPort) (keys.PublicKey, bool)

	// Verify is called whenever a handshake reveals (or proves) the static
	// key of a peer, named by its handle (as ReadFrom names it, however the
	// peer has moved), on the initiating and the responding side alike,
	// before any data of that session is accepted. An error refuses the
	// session: nothing from it reaches the reader, and the refusal is
	// counted (DropRefused) and logged. This is where the trust store
	// does trust on first use. Nil accepts every key. Called from ReadFrom,
	// possibly with internal locks held: it must not call back into the
	// Conn.
	//
	// When: an initiator calls it on the responder's key as soon as the
	// response arrives; an XX responder when msg3 arrives; an IK responder
	// only when the first data packet of the session authenticates (the
	// initiation alone could be a replay from a forged address).
	Verify func(peer netip.AddrPort, key keys.PublicKey) error

	// PeerRefused, if set, is told that a peer (its handle), holding
	// key (which Verify accepted), refused us: our key, or what we said
	// with it (Conn.Refuse). The refusal is authenticated: it was sealed
	// in our session with that key. Called from ReadFrom, with no lock
	// held.
	PeerRefused func(peer netip.AddrPort, key keys.PublicKey)

	// Intercept, if set, sees each packet that arrives, decrypted, with
	// its peer's handle, before the reader does, and keeps it from the
	// reader by returning true: the relay's own messages go to the relay
	// client, not to the transport. Called from ReadFrom or ReadBatch with
	// no lock held; it may write on the Conn. It must not keep pkt.
	Intercept func(pkt []byte, peer netip.AddrPort) bool

	// HandleFor, if set, names the peer a handshake with key completed
	// from addr belongs to when addr is no peer's handle or endpoint: a
	// peer known by a handle of its own (one a relay reaches by key) whose
	// handshake came straight from it, a path punched meanwhile. The
	// peer's endpoint moves to addr. ok false: a new peer at addr. Called
	// from ReadFrom with no lock held; it must not call back into the Conn.
	HandleFor func(addr netip.AddrPort, key keys.PublicKey) (handle netip.AddrPort, ok bool)

	// Logger receives handshake events (Debug), refusals (Warn) and, at
	// Debug and rate-limited, drops. Nil discards.
	Logger *slog.Logger

	// RekeyAfterPackets: after sending this many packets on a session, start
	// a new handshake. Default 1<<20.
	RekeyAfterPackets uint64
	// RekeyAfterTime: the side that initiated a session starts a new
	// handshake when it is this old (the other side waits a little longer, so
	// the two rarely cross: a quarter of RejectAfterTime-RekeyAfterTime).
	// Default 2 minutes.
	RekeyAfterTime time.Duration
	// RejectAfterTime: a session this old is neither used nor accepted.
	// Must exceed RekeyAfterTime. Default 3 minutes.
	RejectAfterTime time.Duration
	// RekeyAfterSilence: when we have been sending on a session for this
	// long without hearing anything from the peer on any session, we start
	// a new handshake: the peer may have restarted and lost its keys, or
	// refused our key until its user accepted it. A live peer answers every
	// packet the transport sends within milliseconds (its ACK), so a few
	// seconds never cut a working session. Default 3 s.
	RekeyAfterSilence time.Duration
	// HandshakeRetry is how long an initiation waits for its answer before
	// another is sent (checked lazily, whenever the Conn is read or written).
	// Default 1 s.
	HandshakeRetry time.Duration
	// IKAttempts is how many IK initiations may go unanswered before we
	// fall back to XX, which also works if the peer's key has changed (and
	// then Verify hears of the new key). Default 3.
	IKAttempts int

	// MaxPeers bounds the table of peers (addresses with a session or a
	// handshake of ours). Default 1024.
	MaxPeers int
	// MaxHalfOpen bounds the handshakes we are answering that are not yet
	// complete; more are dropped. Default 1024.
	MaxHalfOpen int
	// HandshakeRateLimit is how many initiations a second (from everyone)
	// we take before we consider ourselves under load and answer
	// initiations that carry no valid cookie MAC with a cookie reply instead
	// of doing Diffie-Hellman work. Also under load: more than MaxHalfOpen/8
	// half-open handshakes. Default 100.
	HandshakeRateLimit int
	// PerSourceRate and PerSourceBurst limit the initiations one source
	// (IPv4 address, IPv6 /64) gets answered: a token bucket. Defaults 5 a
	// second, burst 10.
	PerSourceRate  float64
	PerSourceBurst int
}

func (c *Config) setDefaults() error {
	if c.Static.IsZero() {
		return fmt.Errorf("secure: Config.Static: no identity key")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RekeyAfterPackets == 0 {
		c.RekeyAfterPackets = 1 << 20
	}
	if c.RekeyAfterTime <= 0 {
		c.RekeyAfterTime = 2 * time.Minute
	}
	if c.RejectAfterTime <= 0 {
		c.RejectAfterTime = 3 * time.Minute
	}
	if c.RejectAfterTime <= c.RekeyAfterTime {
		return fmt.Errorf("secure: RejectAfterTime %v must exceed RekeyAfterTime %v", c.RejectAfterTime, c.RekeyAfterTime)
	}
	if c.RekeyAfterSilence <= 0 {
		c.RekeyAfterSilence = 3 * time.Second
	}
	if c.HandshakeRetry <= 0 {
		c.HandshakeRetry = time.Second
	}
	if c.IKAttempts <= 0 {
		c.IKAttempts = 3
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 1024
	}
	if c.MaxHalfOpen <= 0 {
		c.MaxHalfOpen = 1024
	}
	if c.HandshakeRateLimit <= 0 {
		c.HandshakeRateLimit = 100
	}
	if !(c.PerSourceRate > 0) {
		c.PerSourceRate = 5
	}
	if c.PerSourceBurst <= 0 {
		c.PerSourceBurst = 10
	}
	return nil
}
