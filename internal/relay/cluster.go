package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/wire"
)

// Cluster is what a relay shares with the other relays of its cluster
// (docs/PROTOCOL.md RL8): a registry of which relay each key registered at
// last, with the key's candidates there, and a way to hand a message to a
// client of another relay. internal/relaycluster implements it over NATS.
// The Server calls it from its reader and its mailbox goroutine, so its
// methods must be safe to call at once and must never block.
type Cluster interface {
	// Announce records that key registered at this relay and is reached at
	// candidates (observed first). The relay calls it at every
	// registration, refreshes included: an entry lives as long as the
	// registration's TTL from the last one.
	Announce(key keys.PublicKey, candidates []netip.AddrPort)
	// Locate says where key registered last, if that was another relay of
	// the cluster and not longer ago than a TTL.
	Locate(key keys.PublicKey) (Remote, bool)
	// Send hands msg, a peer message (AppendPeerMessage), to relay, which
	// queues it for its client; false if it was dropped (the link to the
	// cluster is down or backed up). It must not keep msg past returning.
	Send(relay string, msg []byte) bool
	// JoinRoom says this relay has subscribers of room now (its first
	// came): from now on the cluster hands it the room's posts at other
	// relays (Server.FromClusterRoom). LeaveRoom says its last left.
	JoinRoom(room RoomID)
	LeaveRoom(room RoomID)
	// PublishRoom hands msg, a room deliver as it goes on the wire, to
	// every other relay that joined room; false if it was dropped. It must
	// not keep msg past returning.
	PublishRoom(room RoomID, msg []byte) bool
}

// Remote is a key registered at another relay of the cluster.
type Remote struct {
	// Relay names the relay (its cluster id).
	Relay string
	// Candidates are the key's, as that relay saw them: observed first.
	Candidates []netip.AddrPort
}

// A peer message is what one relay of a cluster sends another for one of
// the other's clients: that client's key, then the relay message to queue
// for it (a deliver, a call me maybe or a mail), as it goes on the wire.
const peerKeyLen = 32

// AppendPeerMessage appends the peer message that has relay message m go to
// client to.
func AppendPeerMessage(b []byte, to keys.PublicKey, m wire.RelayMessage) ([]byte, error) {
	if !peerType(m.Type) {
		return b, fmt.Errorf("relay: a message of type %#x does not go between relays", m.Type)
	}
	return wire.AppendRelay(append(b, to[:]...), m)
}

// errPeerMessage is a peer message that is not one.
var errPeerMessage = errors.New("relay: malformed peer message")

// ParsePeerMessage decodes a peer message. The message's payload is a slice
// of b.
func ParsePeerMessage(b []byte) (keys.PublicKey, wire.RelayMessage, error) {
	var to keys.PublicKey
	if len(b) < peerKeyLen {
		return to, wire.RelayMessage{}, fmt.Errorf("%w: %d bytes", errPeerMessage, len(b))
	}
	copy(to[:], b)
	if to == (keys.PublicKey{}) {
		return to, wire.RelayMessage{}, fmt.Errorf("%w: a zero key", errPeerMessage)
	}
	m, err := wire.ParseRelay(b[peerKeyLen:])
	if err != nil {
		return to, m, fmt.Errorf("%w: %w", errPeerMessage, err)
	}
	if !peerType(m.Type) {
		return to, m, fmt.Errorf("%w: type %#x", errPeerMessage, m.Type)
	}
	return to, m, nil
}

// peerType says whether a relay message of type t may come from another
// relay: those a relay sends a client because of another client.
func peerType(t wire.RelayType) bool {
	return t == wire.TypeRelayDeliver || t == wire.TypeRelayCallMeMaybe || t == wire.TypeRelayMail
}

// dest is where a message for a key goes: a client of this relay, or
// another relay of the cluster.
type dest struct {
	local  *client
	remote Remote
}

func (d dest) found() bool { return d.local != nil || d.remote.Relay != "" }

// where finds key: at another relay of the cluster if it registered there
// after it did here (it failed over: its registration here is over), else
// here if it is registered.
func (s *Server) where(key keys.PublicKey, now time.Time) dest {
	if s.peer != nil {
		if r, ok := s.peer.Locate(key); ok {
			if c := s.clients[key]; c != nil {
				s.remove(c, true)
			}
			return dest{remote: r}
		}
	}
	return dest{local: s.live(key, now)}
}

// toPeer sends relay message m for client to at relay, counted.
func (s *Server) toPeer(relay string, to keys.PublicKey, m wire.RelayMessage) {
	b, err := AppendPeerMessage(make([]byte, 0, peerKeyLen+wire.MaxRelayMessage), to, m)
	if err != nil { // a message of ours that does not encode is a bug here
		s.log.Error("relay: cannot encode a peer message", "type", m.Type, "err", err)
		return
	}
	if !s.peer.Send(relay, b) {
		s.drop(DropPeerBusy)
		return
	}
	s.c.peerSent.Add(1)
}

// FromCluster takes a peer message another relay of the cluster sent for a
// client of this one, and queues it for the client. The Cluster calls it
// from its own goroutine. A message that does not parse, or for a key not
// registered here, is dropped and counted.
func (s *Server) FromCluster(b []byte) {
	to, m, err := ParsePeerMessage(b)
	if err != nil {
		s.drop(DropPeerMalformed)
		return
	}
	s.regMu.RLock()
	c := s.live(to, s.cfg.Now())
	s.regMu.RUnlock()
	if c == nil {
		s.drop(DropNoDestination)
		return
	}
	s.c.peerReceived.Add(1)
	if m.Type == wire.TypeRelayMail {
		s.c.mailSent.Add(1) // stored by the other relay, sent by this one
	}
	s.enqueue(c, m, m.Type == wire.TypeRelayDeliver)
}
