package relay

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/wire"
)

// ClientConfig sets up a Client. Conn and Relay are required.
type ClientConfig struct {
	// Conn carries the client's packets: a conn on which the relay is a peer
	// whose key is pinned (a secure.Conn whose KnownKey and Verify say
	// Relay holds the relay's key), so that what the Client writes to Relay
	// is sealed for the relay alone. It may be the chat's own conn, so that
	// the relay observes the address the chat's peers will punch to; then
	// the chat's reader hands the packets from Relay to Handle, and the
	// Client writes only.
	Conn  udp.Conn
	Relay netip.AddrPort
	// Locals are the client's own addresses, sent with each registration
	// as candidates for peers on the same network.
	Locals []netip.AddrPort

	// OnDeliver hears each datagram a peer sent through the relay: that
	// peer's sealed datagram, to be opened by the client's own session with
	// it. Called from Handle; it must not keep datagram.
	OnDeliver func(from keys.PublicKey, datagram []byte)
	// OnCallMeMaybe hears that from wants to talk, and where it may be
	// reached: ping those candidates now, so the two punch at once.
	OnCallMeMaybe func(from keys.PublicKey, candidates []netip.AddrPort)
	// OnMail hears each mail the relay holds for us: store it, then Ack its
	// ID. Until then the relay keeps it and sends it again at each fetch;
	// the Client passes it on once, but a new Client (after a restart)
	// hears of it again, and so may one whose ack was lost: the chat drops
	// a message it already has. Nil: the Client never fetches.
	OnMail func(m Mail)
	// OnRoomDeliver hears each room datagram a member of room posted
	// (RL9), as from's session with the relay carried it: the room's own
	// keys seal and sign it, and the room checks them. Called from Handle;
	// it must not keep datagram.
	OnRoomDeliver func(from keys.PublicKey, room RoomID, datagram []byte)

	// Retry is how long a request waits for its answer before it is sent
	// again. Default 1 s.
	Retry time.Duration
}

// Client is the client side of the relay protocol: registration and its
// refresh, the observed address, candidates, forwarding by key and
// mailboxes. It is transport-agnostic: it writes relay messages to Relay on
// Conn and is handed the packets that come back (Handle), by Run or by
// whoever owns the conn's reader.
type Client struct {
	cfg ClientConfig

	mu         sync.Mutex
	observed   netip.AddrPort
	refresh    time.Duration
	waiters    map[waitKey][]chan wire.RelayMessage
	unacked    map[uint64]bool
	sinceFetch int
	lastFetch  time.Time
	// acked are the mails acknowledged lately, oldest first: a fetch the
	// relay answered before our ack reached it (two registrations each
	// fetch, say) hands one over again, and that one is acknowledged
	// again, not handed to OnMail twice.
	acked []uint64
}

// maxAcked bounds Client.acked: far more than the mails of one fetch that
// can be in flight when an ack goes.
const maxAcked = 4 * MailPerFetch

// waitKey is the answer a request waits for.
type waitKey struct {
	typ wire.RelayType
	key keys.PublicKey
	id  uint64
}

// NewClient makes a Client; nothing is sent until Register (or Run).
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Conn == nil || !cfg.Relay.IsValid() {
		return nil, errors.New("relay: a client needs a conn and the relay's address")
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	cfg.Locals = slices.Clone(cfg.Locals[:min(len(cfg.Locals), wire.MaxRelayAddrs)])
	return &Client{
		cfg:     cfg,
		refresh: 25 * time.Second,
		waiters: make(map[waitKey][]chan wire.RelayMessage),
		unacked: make(map[uint64]bool),
	}, nil
}

// Run registers, refreshes the registration as often as the relay asks,
// and reads Conn, handing what comes from the relay to Handle, until ctx
// ends or Conn fails. Use it when the Client owns Conn; Close Conn after
// Run returns.
func (c *Client) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- c.readLoop() }()
	for {
		rctx, cancel := context.WithTimeout(ctx, c.Refresh())
		_, err := c.Register(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		wait := c.Refresh()
		if err != nil {
			wait = c.cfg.Retry // not answered in a whole refresh: keep trying
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-time.After(wait):
		}
	}
}

func (c *Client) readLoop() error {
	buf := make([]byte, wire.MaxRelayMessage+1)
	for {
		n, from, err := c.cfg.Conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		if from == c.cfg.Relay {
			c.Handle(buf[:n]) // a malformed packet from the relay is dropped
		}
	}
}

// Register registers (or refreshes) with the relay and returns the address
// it sees us at. It resends every Retry until answered or ctx ends.
func (c *Client) Register(ctx context.Context) (netip.AddrPort, error) {
	id := newNonce()
	m, err := c.request(ctx, wire.RelayMessage{Type: wire.TypeRelayRegister, Addrs: c.cfg.Locals, ID: id},
		waitKey{typ: wire.TypeRelayRegistered, id: id})
	if err != nil {
		return netip.AddrPort{}, err
	}
	return m.Addrs[0], nil
}

// Observed is the address the relay saw us at when it last answered a
// registration, or false before it has.
func (c *Client) Observed() (netip.AddrPort, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.observed, c.observed.IsValid()
}

// Refresh is how often the relay wants us to register again.
func (c *Client) Refresh() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refresh
}

// Lookup asks for peer's candidates (observed address first). None means
// peer is not registered with the relay. The relay also tells peer to ping
// us back (OnCallMeMaybe on its side), so ping the candidates at once.
func (c *Client) Lookup(ctx context.Context, peer keys.PublicKey) ([]netip.AddrPort, error) {
	id := newNonce()
	m, err := c.request(ctx, wire.RelayMessage{Type: wire.TypeRelayLookup, Key: peer, ID: id},
		waitKey{typ: wire.TypeRelayCandidates, key: peer, id: id})
	return m.Addrs, err
}

// newNonce is a request's: a random number its answer echoes.
func newNonce() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// Forward sends datagram, already sealed for peer by our session with it,
// through the relay. It is a datagram: it may be lost, and nothing answers.
func (c *Client) Forward(peer keys.PublicKey, datagram []byte) error {
	return c.send(wire.RelayMessage{Type: wire.TypeRelayForward, Key: peer, Payload: datagram})
}

// SubscribeRoom asks the relay for the datagrams members post to room (on),
// or to stop (off). It is a datagram: a caller that must be sure sends it
// again (the chat does, at every registration, since a relay that forgot
// the registration forgot the subscriptions too).
func (c *Client) SubscribeRoom(room RoomID, on bool) error {
	var status uint8 = wire.RoomUnsubscribe
	if on {
		status = wire.RoomSubscribe
	}
	return c.send(wire.RelayMessage{Type: wire.TypeRelayRoomSubscribe, Room: room, Status: status})
}

// PostRoom has the relay deliver datagram, sealed by the room's keys, to
// every other subscriber of room, at every relay of its cluster. We must
// be subscribed to it. It is a datagram: it may be lost, and nothing
// answers.
func (c *Client) PostRoom(room RoomID, datagram []byte) error {
	return c.send(wire.RelayMessage{Type: wire.TypeRelayRoomPost, Room: room, Payload: datagram})
}

// PutMail leaves blob (SealMail's, for peer) in peer's mailbox and returns
// the relay's answer: wire.MailStored, MailBoxFull, MailTooLarge or
// MailRefused. A put resent because its answer was slow or lost carries the
// same blob, which the relay does not store again while it holds the first.
func (c *Client) PutMail(ctx context.Context, peer keys.PublicKey, blob []byte) (uint8, error) {
	id := newNonce()
	m, err := c.request(ctx, wire.RelayMessage{Type: wire.TypeRelayMailPut, Key: peer, ID: id, Payload: blob},
		waitKey{typ: wire.TypeRelayMailStored, id: id})
	return m.Status, err
}

// Fetch asks the relay for our mail; it comes to OnMail. The Client
// fetches by itself after a registration (but at most twice a refresh: a
// caller that registers more often, to learn the relay still answers,
// does not make the relay read its mailboxes each time) and after
// acknowledging a full fetch, so a caller needs this only to ask sooner.
func (c *Client) Fetch() error {
	c.mu.Lock()
	c.sinceFetch, c.lastFetch = 0, time.Now()
	c.mu.Unlock()
	return c.send(wire.RelayMessage{Type: wire.TypeRelayMailFetch})
}

// Ack tells the relay that mail id is stored on our side, so it deletes its
// copy.
func (c *Client) Ack(id uint64) error {
	c.mu.Lock()
	delete(c.unacked, id)
	if len(c.acked) == maxAcked {
		c.acked = slices.Delete(c.acked, 0, 1)
	}
	c.acked = append(c.acked, id)
	more := len(c.unacked) == 0 && c.sinceFetch >= MailPerFetch
	c.mu.Unlock()
	if err := c.send(wire.RelayMessage{Type: wire.TypeRelayMailAck, ID: id}); err != nil {
		return err
	}
	if more { // the relay sent a fetch's worth: there may be more
		return c.Fetch()
	}
	return nil
}

// ReportPunch tells the relay whether punching to peer found a direct path,
// for its metrics.
func (c *Client) ReportPunch(peer keys.PublicKey, direct bool) error {
	var outcome uint8 = wire.PunchFailed
	if direct {
		outcome = wire.PunchDirect
	}
	return c.send(wire.RelayMessage{Type: wire.TypeRelayPunchResult, Key: peer, Status: outcome})
}

// Handle takes a packet that came from the relay. One that is not a relay
// message, or one only clients send, is an error and changes nothing.
func (c *Client) Handle(pkt []byte) error {
	m, err := wire.ParseRelay(pkt)
	if err != nil {
		return err
	}
	switch m.Type {
	case wire.TypeRelayRegistered:
		c.mu.Lock()
		c.observed, c.refresh = m.Addrs[0], time.Duration(m.Refresh)*time.Second
		fetch := c.cfg.OnMail != nil && time.Since(c.lastFetch) >= c.refresh/2
		c.mu.Unlock()
		var err error
		if fetch { // before the answer: a fetch a registration asks for has gone when Register returns
			err = c.Fetch()
		}
		c.answer(waitKey{typ: m.Type, id: m.ID}, m)
		return err
	case wire.TypeRelayCandidates:
		c.answer(waitKey{typ: m.Type, key: m.Key, id: m.ID}, m)
	case wire.TypeRelayMailStored:
		c.answer(waitKey{typ: m.Type, id: m.ID}, m)
	case wire.TypeRelayCallMeMaybe:
		if c.cfg.OnCallMeMaybe != nil {
			c.cfg.OnCallMeMaybe(m.Key, m.Addrs)
		}
	case wire.TypeRelayDeliver:
		if c.cfg.OnDeliver != nil {
			c.cfg.OnDeliver(m.Key, m.Payload)
		}
	case wire.TypeRelayRoomDeliver:
		if c.cfg.OnRoomDeliver != nil {
			c.cfg.OnRoomDeliver(m.Key, m.Room, m.Payload)
		}
	case wire.TypeRelayMail:
		if c.cfg.OnMail != nil {
			c.mu.Lock()
			if slices.Contains(c.acked, m.ID) {
				c.mu.Unlock()
				// Ours already: the relay sent it before our ack arrived,
				// or the ack was lost. Acknowledge it again.
				return c.send(wire.RelayMessage{Type: wire.TypeRelayMailAck, ID: m.ID})
			}
			seen := c.unacked[m.ID]
			c.unacked[m.ID] = true
			c.sinceFetch++
			c.mu.Unlock()
			if seen { // handed over already, and not yet acknowledged
				return nil
			}
			c.cfg.OnMail(Mail{ID: m.ID, StoredAt: time.Unix(int64(min(m.StoredAt, 1<<62)), 0), Blob: slices.Clone(m.Payload)})
		}
	default:
		return fmt.Errorf("%w: relay message type 0x%02x is not for clients", wire.ErrType, byte(m.Type))
	}
	return nil
}

// request sends m every Retry until the answer w arrives or ctx ends.
func (c *Client) request(ctx context.Context, m wire.RelayMessage, w waitKey) (wire.RelayMessage, error) {
	ch := make(chan wire.RelayMessage, 1)
	c.mu.Lock()
	c.waiters[w] = append(c.waiters[w], ch)
	c.mu.Unlock()
	defer c.unwait(w, ch)
	t := time.NewTicker(c.cfg.Retry)
	defer t.Stop()
	for {
		if err := c.send(m); err != nil {
			return wire.RelayMessage{}, err
		}
		select {
		case a := <-ch:
			return a, nil
		case <-ctx.Done():
			return wire.RelayMessage{}, fmt.Errorf("relay %v did not answer: %w", c.cfg.Relay, ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Client) unwait(w waitKey, ch chan wire.RelayMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiters[w] = slices.DeleteFunc(c.waiters[w], func(x chan wire.RelayMessage) bool { return x == ch })
	if len(c.waiters[w]) == 0 {
		delete(c.waiters, w)
	}
}

// answer hands m to everyone waiting for w. Payloads are not kept: no
// answer a request waits for carries one.
func (c *Client) answer(w waitKey, m wire.RelayMessage) {
	m.Addrs = slices.Clone(m.Addrs)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.waiters[w] {
		select {
		case ch <- m:
		default: // already answered (a resend's answer)
		}
	}
}

func (c *Client) send(m wire.RelayMessage) error {
	b, err := wire.AppendRelay(nil, m)
	if err != nil {
		return err
	}
	_, err = c.cfg.Conn.WriteTo(b, c.cfg.Relay)
	return err
}
