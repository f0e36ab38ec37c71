package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/identity"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay/relaypath"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/trust"
	"github.com/udpchat/udpchat/internal/udp"
)

// encryption is what an encrypted node runs on: this user's identity, the
// known peers, and the secure layer over the socket.
type encryption struct {
	key   keys.PrivateKey
	known *trust.KnownPeers
	conn  *secure.Conn
	// node is set once the node exists; until then warnings have no one
	// to go to (and none can come: nothing has been read yet).
	node atomic.Pointer[chat.Node]
	// relay is the relay path, or nil without --relay.
	relay *relaypath.Path
}

// knownKey is the secure layer's KnownKey: the relay's pinned key and
// relayed people's by rp, the rest by the known peers.
func (e *encryption) knownKey(peer netip.AddrPort) (keys.PublicKey, bool) {
	if e.relay != nil {
		if k, decided, ok := e.relay.KnownKey(peer); decided {
			return k, ok
		}
		if relaypath.IsHandle(peer) {
			return e.relayedKnown(peer)
		}
	}
	return e.known.Known(peer)
}

// relayedKnown is the key of the known person whose relay handle is h (the
// outbox, after a restart, names people reached through the relay so),
// which the relay path learns.
func (e *encryption) relayedKnown(h netip.AddrPort) (keys.PublicKey, bool) {
	entries, err := e.known.Entries()
	if err != nil {
		return keys.PublicKey{}, false
	}
	for _, en := range entries {
		if !en.Key.IsZero() && relaypath.Handle(en.Key) == h {
			e.relay.Introduce(en.Key)
			return en.Key, true
		}
	}
	return keys.PublicKey{}, false
}

// openEncryption loads (or makes) the identity in dataDir and wraps conn in
// the secure layer, with trust on first use deciding whose keys to accept.
// With rp, the relay and the people it reaches are verified by rp, and the
// relay's messages go to its client.
func openEncryption(conn udp.Conn, dataDir string, log *slog.Logger, rp *relaypath.Path) (*encryption, error) {
	key, err := identity.Load(dataDir)
	if err != nil {
		return nil, err
	}
	known, err := trust.Open(dataDir)
	if err != nil {
		return nil, err
	}
	e := &encryption{key: key, known: known, relay: rp}
	cfg := secure.Config{
		Static:      key,
		KnownKey:    e.knownKey,
		Verify:      e.verify,
		PeerRefused: e.peerRefused,
		Logger:      log,
	}
	if rp != nil {
		cfg.Intercept, cfg.HandleFor = rp.Intercept, rp.HandleFor
	}
	e.conn, err = secure.NewConn(conn, cfg)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// security is what the UI shows about it.
func (e *encryption) security() chat.Security {
	return chat.Security{Encrypted: true, Fingerprint: e.key.Public().Fingerprint()}
}

// verify is the secure layer's question "may this key speak from this
// address?", answered by the known peers; a refusal is shown to the user.
func (e *encryption) verify(peer netip.AddrPort, key keys.PublicKey) error {
	if e.relay != nil {
		if err, decided := e.relay.Verify(peer, key); decided {
			if err != nil {
				e.tell(peer, err)
			}
			return err
		}
	}
	err := e.known.Verify(peer, key)
	if err != nil {
		e.warn(peer, err)
	}
	return err
}

func (e *encryption) warn(peer netip.AddrPort, err error) {
	var changed *trust.KeyChangedError
	if !errors.As(err, &changed) {
		// Not a verdict on the key (the file could not be read, say): the
		// peer is refused all the same, and the user must know why.
		err = fmt.Errorf("refusing a peer's key because the known peers cannot be checked: %w", err)
	}
	e.tell(peer, err)
}

// tell shows the user err about peer.
func (e *encryption) tell(peer netip.AddrPort, err error) {
	if n := e.node.Load(); n != nil {
		// Not on this goroutine: the secure layer holds a peer's lock
		// here, and the node may be waiting for the UI.
		go n.Warn(peer, err)
	}
}

// RefusedError says a peer refused this user's key (or the name it used
// with it): trust on first use on the peer's side knows another key for
// our address or name. The peer said so in a refusal sealed in our session
// with it (see secure.Conn.Refuse), so it is no forgery.
type RefusedError struct {
	Peer        netip.AddrPort
	Name        string // the peer's, if it introduced itself
	Fingerprint string // ours
}

func (e *RefusedError) Error() string {
	who := e.Peer.String()
	if e.Name != "" {
		who = e.Name + " at " + who // the printer escapes it, as every error
	}
	return fmt.Sprintf("%s refused this key: it knows another key for this address or this name. If yours is new, ask its owner to compare it with what udpchat id prints here (%s) and accept it with udpchat trust",
		who, e.Fingerprint)
}

// peerRefused is the secure layer's news that peer refused us; the user
// hears of it.
func (e *encryption) peerRefused(peer netip.AddrPort, _ keys.PublicKey) {
	peer = udp.Unmap(peer)
	n := e.node.Load()
	if n == nil {
		return
	}
	// Not on the secure layer's goroutine: see warn.
	go func() {
		err := &RefusedError{Peer: peer, Fingerprint: e.key.Public().Fingerprint()}
		for _, p := range n.Peers() {
			if p.Addr == peer {
				err.Name = p.Name
			}
		}
		n.Warn(peer, err)
	}()
}

// Fingerprint implements chat.PeerCheck.
func (e *encryption) Fingerprint(peer netip.AddrPort) string {
	if k, ok := e.conn.PeerKey(peer); ok {
		return k.Fingerprint()
	}
	return ""
}

// PeerKey implements chat.PeerKeys: the person behind peer's session.
func (e *encryption) PeerKey(peer netip.AddrPort) ([32]byte, bool) {
	k, ok := e.conn.PeerKey(peer)
	return k, ok
}

// KnownKey implements chat.KnownKeys: the key known for peer before any
// session there, as the secure layer would expect it (a relay handle's
// included), so that what is sent to someone who does not answer can
// still go to their mailbox.
func (e *encryption) KnownKey(peer netip.AddrPort) ([32]byte, bool) {
	return e.knownKey(udp.Unmap(peer))
}

// knownKeys are the keys the known peers bind to addresses, for the node's
// one-time move of a history kept by address to people
// (chat.Config.KnownKeys). A file that cannot be read maps nothing: the
// move then leaves those messages by address, and says so.
func (e *encryption) knownKeys() map[netip.AddrPort][32]byte {
	entries, err := e.known.Entries()
	if err != nil {
		return nil
	}
	keys := make(map[netip.AddrPort][32]byte, len(entries))
	for _, en := range entries {
		if en.Addr.IsValid() && !en.Key.IsZero() {
			keys[en.Addr] = en.Key
		}
	}
	return keys
}

// Known tells the node that a key answered at peer before (it is in the
// known peers), so what the user sends it is kept in the outbox even
// while it is away: see chat.Sent.Kept.
func (e *encryption) Known(peer netip.AddrPort) bool {
	_, ok := e.known.Known(peer)
	return ok
}

// CheckName implements chat.PeerCheck: a display name belongs to the
// first key that used it. A peer that passes joins the conversation, so
// this is where its key is remembered (a handshake alone writes nothing).
func (e *encryption) CheckName(peer netip.AddrPort, name string) error {
	k, ok := e.conn.PeerKey(peer)
	if !ok {
		return errors.New("a message from " + peer.String() + " arrived with no verified key")
	}
	err := e.known.Admit(peer, k, name)
	var changed *trust.KeyChangedError
	if errors.As(err, &changed) {
		e.conn.Refuse(peer) // so its user hears why nothing arrives
	}
	return err
}

// CheckMailName implements chat.MailCheck: a name in mail belongs to the
// first key that used it, as in a session; key is the one that sealed it.
func (e *encryption) CheckMailName(peer netip.AddrPort, key [32]byte, name string) error {
	return e.known.Admit(peer, keys.PublicKey(key), name)
}
