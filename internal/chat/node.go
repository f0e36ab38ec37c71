// Package chat is the node every UI drives: who is in the conversation, what
// they said, and which of our messages they have. It knows names and text but
// neither sockets nor terminals; a Link below it carries the bytes.
package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/udpchat/udpchat/internal/store"
	"github.com/udpchat/udpchat/internal/wire"
)

// Config says who the node is and what kind of link it runs on.
type Config struct {
	// Name is the display name peers see; see ValidateName.
	Name string
	// Plain says the link is the seed-compatible plain link: payloads are
	// name:text datagrams, there are no hellos and nothing is ever
	// acknowledged, so nothing is ever Delivered.
	Plain bool
	// PlainMax is the largest plain datagram to send: what the peers read.
	// Zero means wire.DefaultPlainMax.
	PlainMax int
	// Security is how the link protects messages, for the UI to show.
	Security Security
	// Store, if not nil, keeps the history and the outbox: see
	// MessageStore for what is written when. On a reliable link New sends again what it
	// has pending. In plain mode it only records what was said, as
	// nothing is acknowledged there.
	Store MessageStore
	// PeerCheck, if not nil, names the key behind each peer and guards
	// display names against impostors: see PeerCheck.
	PeerCheck PeerCheck
	// SendOnly says this node only sends (udpchat send): its features say
	// so, and peers never make it a recipient of what they type, since it
	// will have gone by then (docs/PROTOCOL.md, the chat payload).
	SendOnly bool
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// SaveName, if not nil, is called by SetName with the new name, to
	// remember it for the next start (udpchat keeps it in the data dir).
	SaveName func(name string) error
}

// Security describes how the node's link protects what it carries.
type Security struct {
	// Encrypted says messages are encrypted and authenticated.
	Encrypted bool
	// Fingerprint is this user's public key fingerprint ("" without keys).
	Fingerprint string
}

// LeaveTimeout bounds how long Leave waits for peers to hear that we leave:
// a peer that is gone must not keep us.
const LeaveTimeout = 2 * time.Second

// eventBuffer is how many events may wait for the UI before their producers
// wait too: enough to ride out a burst of messages while the UI draws.
const eventBuffer = 1024

var (
	// ErrClosed is returned by calls on a node that Close has been called on.
	ErrClosed = errors.New("chat: node is closed")
	// ErrNoPeers is returned by Send before anyone is in the conversation.
	ErrNoPeers = errors.New("no one to send to yet: connect to a peer (--peer, /connect) or wait until one contacts you")
)

// Node is one participant in a conversation: the peers it was told about
// and those that contacted it. It turns UI calls into payloads on its Link,
// and what the Link reports (it is the Link's Handler) into Events.
type Node struct {
	plain    bool
	sendOnly bool
	plainMax int
	security Security
	log      *slog.Logger
	events   chan Event
	// closing is closed when Close begins; see emit for what changes then.
	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
	stats     counters
	store     MessageStore // nil: nothing is stored
	// storeFailing says the last message Receive tried to store could not
	// be, and the user has been told; it is reset by the next success,
	// which is announced too (StoreRecovered), so that a store that keeps
	// failing is reported once, not once a retry.
	storeFailing atomic.Bool
	peerCheck    PeerCheck
	saveName     func(string) error // Config.SaveName
	warned       warnings

	// outMu orders the changes to the outbox: Send's writes before its
	// link.Send, Delivered's and Cancel's updates, New's requeue. It is
	// held across those store writes, and taken before mu, never while mu
	// is held (mu is only ever held briefly: a UI calls Peers while a
	// commit is on its way to the disk).
	outMu sync.Mutex
	// eventsClosed is set when Events is closed; only the holder of the
	// current turn reads or writes it, so turns order those accesses.
	eventsClosed bool

	// mu guards the fields below. It is held across link.Send, so that the
	// ref Send returns is recorded before a Delivered naming it can be
	// handled; that is safe because a Link never calls its Handler while
	// holding a lock its Send needs. It is never held while waiting for the
	// UI to read an event (see turn.go).
	mu      sync.Mutex
	link    Link // nil until newLink returns, in New
	name    string
	closed  bool
	peers   map[netip.AddrPort]*peer
	pending map[sentRef]pendingSent // sent and not yet delivered
	// cancelled are the messages Cancel took out of pending, which the
	// link may still deliver.
	cancelled map[sentRef]MessageID
	// pendingDropped counts entries dropPeerLocked took out of pending
	// since pending was last made anew.
	pendingDropped int
	sendSeq        uint64          // orders pending by when it was sent
	heldSeq        uint64          // numbers the refs of held messages (see holdLocked)
	heldBytes      int             // of the payloads held, at most maxHeld
	drained        chan struct{}   // closed whenever pending is empty
	lastTurn       <-chan struct{} // the done channel of the latest turn

	// plainClock counts plain datagrams received: when each peer was last
	// heard, for the plain peer table's evictions.
	plainClock uint64
}

// sentRef names one message on the link: the peer and the ref Link.Send
// returned for it — or, if held, a ref of the node's own for a message it
// has not given the link yet (see holdLocked).
type sentRef struct {
	peer netip.AddrPort
	ref  uint64
	held bool
}

type pendingSent struct {
	seq uint64
	Sent
	// payload is a held message's, for the link once the peer joins.
	payload []byte
}

// New returns a node that runs on the link newLink builds with the node as
// its Handler. The link may call the node before newLink returns.
func New(cfg Config, newLink func(Handler) (Link, error)) (*Node, error) {
	if err := ValidateName(cfg.Name); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	closedChan := make(chan struct{})
	close(closedChan)
	n := &Node{
		plain:     cfg.Plain,
		sendOnly:  cfg.SendOnly,
		plainMax:  cmp.Or(cfg.PlainMax, wire.DefaultPlainMax),
		security:  cfg.Security,
		peerCheck: cfg.PeerCheck,
		saveName:  cfg.SaveName,
		log:       log,
		events:    make(chan Event, eventBuffer),
		closing:   make(chan struct{}),
		name:      cfg.Name,
		peers:     make(map[netip.AddrPort]*peer),
		pending:   make(map[sentRef]pendingSent),
		store:     cfg.Store,
		cancelled: make(map[sentRef]MessageID),
		drained:   closedChan,
		lastTurn:  closedChan,
	}
	var pending, unshown []store.Message
	if n.store != nil {
		// Read before the link exists, so a store that cannot be read
		// stops udpchat before it has a socket to clean up.
		var err error
		if !n.plain {
			if pending, err = n.store.Pending(storeCtx); err != nil {
				return nil, fmt.Errorf("reading the outbox: %w", err)
			}
		}
		if unshown, err = n.store.Unshown(storeCtx); err != nil {
			return nil, fmt.Errorf("reading the messages not yet shown: %w", err)
		}
	}
	// What an earlier run stored and did not show goes first, before
	// anything the link reports (it may, before newLink returns).
	var replay turn
	if len(unshown) > 0 {
		n.mu.Lock()
		replay = n.takeTurnLocked()
		n.mu.Unlock()
	}
	link, err := newLink(n)
	if err != nil {
		return nil, err
	}
	if len(unshown) > 0 {
		// No one reads Events until New returns (see below).
		go n.emit(replay, unshownEvents(unshown))
	}
	n.update(func() []Event {
		n.link = link
		var evs []Event
		for _, p := range n.sortedPeersLocked() {
			// The hellos of sessions that came up while New was still
			// building the link.
			if err := n.greetLocked(p); err != nil {
				evs = append(evs, Error{Err: err})
			}
		}
		return evs
	})
	if len(pending) > 0 {
		n.outMu.Lock()
		evs := n.requeueLocked(pending)
		n.mu.Lock()
		t := n.takeTurnLocked()
		n.mu.Unlock()
		n.outMu.Unlock()
		// There may be more events than Events holds, and no one reads
		// it until New returns: they wait in their turn (emit ends once
		// they are read, or drops them once Close begins).
		go n.emit(t, evs)
	}
	return n, nil
}

// Events delivers what happens, in order. Read it steadily: while it is
// full, the node waits (and with it the link, which then drops what
// arrives and lets retransmission recover). It is closed when Close
// returns.
func (n *Node) Events() <-chan Event { return n.events }

// Plain reports whether the node runs on the plain link, which the UI must
// say loudly: nothing is encrypted or acknowledged.
func (n *Node) Plain() bool { return n.plain }

// Security is how the node's link protects messages.
func (n *Node) Security() Security { return n.security }

// Name is our display name.
func (n *Node) Name() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.name
}

// LocalAddr is the address of the link's socket, to tell peers where to
// reach us.
func (n *Node) LocalAddr() netip.AddrPort {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.link.LocalAddr()
}

// Connect adds peer to the conversation and asks the link to start a
// session with it; it does not wait for an answer (Joined says when the
// peer has introduced itself). It is /connect: until the peer answers,
// what is sent to it is held in memory only (see Sent.Kept), so that a
// mistyped address leaves nothing for later runs to wait on.
func (n *Node) Connect(addr netip.AddrPort) error { return n.connect(addr, false) }

// ConnectKept is Connect for a peer the user configured to start with
// (--peer): what is sent to it goes in the outbox even before it answers,
// since a configured peer may simply not be up yet, and what a user
// starts udpchat to send must survive a crash until it comes up. Those
// that never answer are named at the end (Unanswered), and udpchat
// history --cancel-peer gives up on them.
func (n *Node) ConnectKept(addr netip.AddrPort) error { return n.connect(addr, true) }

func (n *Node) connect(addr netip.AddrPort, keep bool) error {
	if !addr.IsValid() || addr.Port() == 0 {
		return fmt.Errorf("connect to %s: not a peer address", addr)
	}
	addr = Unmap(addr)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	p := n.peerLocked(addr)
	p.member, p.chosen = true, true
	p.kept = p.kept || keep
	// One already in session (it contacted us first) hears our name now.
	err := n.greetLocked(p)
	link := n.link
	n.mu.Unlock()
	if err := link.Connect(addr); err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	return err
}

// Send sends text as one message to every peer in the conversation, and
// returns (and emits as Sent events) one Sent per peer it was queued for.
// Text that ValidateText refuses, or that plain mode cannot fit in one
// datagram, is not sent to anyone. With a store, each Sent is in the
// outbox (committed to disk) before its first datagram leaves, and stays
// there until the peer has it: this run or a later one sends it (see
// Config.Store); a peer for which it cannot be stored does not get it.
// Like every producer of events, Send waits while Events is full, so do
// not call it from the goroutine that reads Events.
func (n *Node) Send(text string) ([]Sent, error) { return n.send(wire.ChatText, text) }

// SendAction is Send for a /me action, shown by peers as "* NAME TEXT".
func (n *Node) SendAction(text string) ([]Sent, error) { return n.send(wire.ChatAction, text) }

func (n *Node) send(kind wire.ChatKind, text string) ([]Sent, error) {
	return n.sendMessage(kind, text, netip.AddrPort{})
}

// sendMessage sends one message to the peer to, or to every peer in the
// conversation if to is the zero AddrPort, through the outbox: every send
// of a chat message goes through here.
func (n *Node) sendMessage(kind wire.ChatKind, text string, to netip.AddrPort) ([]Sent, error) {
	if err := ValidateText(text); err != nil {
		return nil, err
	}
	id := newID()
	now := time.Now()
	var sent []Sent
	var errs []error
	if err := n.lockOpen(); err != nil {
		return nil, err
	}
	peers := slices.DeleteFunc(n.sortedPeersLocked(), func(p *peer) bool { return !p.member })
	if n.plain && !to.IsValid() {
		if err := n.plainSkippedLocked(len(peers) == 0); err != nil {
			if len(peers) == 0 {
				n.mu.Unlock()
				n.outMu.Unlock()
				return nil, err
			}
			errs = append(errs, err)
		}
	}
	if len(peers) == 0 && !to.IsValid() {
		n.mu.Unlock()
		n.outMu.Unlock()
		return nil, ErrNoPeers
	}
	name := n.name
	payload, err := n.encodeLocked(kind, id, text)
	if err != nil {
		n.mu.Unlock()
		n.outMu.Unlock()
		return nil, err
	}
	if to.IsValid() {
		to = Unmap(to)
		p := n.peers[to]
		if p == nil {
			n.mu.Unlock()
			n.outMu.Unlock()
			return nil, fmt.Errorf("%s is not in the conversation: /connect it first", to)
		}
		peers = []*peer{p}
		if kind == wire.ChatDirect && !p.direct {
			// An older udpchat drops a kind it does not know: it gets
			// the text unmarked. The outbox keeps the kind we meant.
			if payload, err = n.encodeLocked(wire.ChatText, id, text); err != nil {
				n.mu.Unlock()
				n.outMu.Unlock()
				return nil, err
			}
		}
	}
	kept := n.keepsLocked(peers)
	n.mu.Unlock()

	// The outbox rule: the message is on disk before its first datagram
	// leaves. Where it cannot be written it is not sent, so that what a
	// peer has is always in our history and a crash never forgets what
	// was sent. (Plain mode only records, and sends regardless.)
	peers = slices.DeleteFunc(peers, func(p *peer) bool {
		err := n.record(kind, id, name, text, now, p.addr, kept[p.addr])
		if err == nil {
			return false
		}
		if n.plain {
			errs = append(errs, fmt.Errorf("sent to %s, but not recorded in the history: %w", p.displayName(), err))
			return false
		}
		errs = append(errs, fmt.Errorf("not sent to %s: it could not be stored: %w", p.displayName(), err))
		return true
	})

	var unsent []netip.AddrPort // stored, then not sent: cancelled below
	n.mu.Lock()
	for _, p := range peers {
		if n.closed {
			errs = append(errs, fmt.Errorf("send to %s: %w", p.displayName(), ErrClosed))
			unsent = append(unsent, p.addr)
			continue
		}
		s := Sent{ID: id, To: p.addr, Text: text, Action: kind == wire.ChatAction, Direct: kind == wire.ChatDirect, At: now, Kept: kept[p.addr]}
		if err := n.sendLocked(p, payload, s); err != nil {
			errs = append(errs, fmt.Errorf("send to %s: %w", p.displayName(), err))
			unsent = append(unsent, p.addr)
			continue
		}
		sent = append(sent, s)
	}
	evs := make([]Event, len(sent))
	for i, s := range sent {
		evs[i] = s
	}
	t := n.takeTurnLocked()
	n.mu.Unlock()
	if n.store != nil && !n.plain {
		// Send reported these as not sent, so they must not go at the
		// next start either.
		for _, addr := range unsent {
			if !kept[addr] {
				continue
			}
			if err := n.store.Cancel(storeCtx, PeerKey(addr), [16]byte(id)); err != nil {
				errs = append(errs, fmt.Errorf("%s stays in the outbox for %s: %w", id, addr, err))
			}
		}
	}
	n.outMu.Unlock()
	n.emit(t, evs)
	return sent, errors.Join(errs...)
}

// record writes our message to the store, if there is one: in the outbox
// if kept (see keepsLocked), else in the history only. n.outMu must be
// held.
func (n *Node) record(kind wire.ChatKind, id MessageID, name, text string, at time.Time, to netip.AddrPort, kept bool) error {
	if n.store == nil {
		return nil
	}
	m := store.Message{ID: id, Peer: PeerKey(to), Kind: int(kind), Name: name, Text: text, At: at}
	if !kept {
		return n.store.AddSent(storeCtx, m)
	}
	return n.store.AddOutgoing(storeCtx, m)
}

// keepsLocked says, for each of peers, whether what we send it goes in the
// outbox, to be sent again by later runs until it is delivered. Only a
// peer the user configured (--peer: ConnectKept), or chose (/connect) and
// that has answered, in this run or an earlier one (its key is known at
// that address), gets outbox rows: the outbox is for people, not for every address that contacted
// us, nor for a mistyped one, which would make every later run wait on it.
// For the others a message is held in memory while this node runs, and
// recorded in the history as sent. n.mu must be held; PeerCheck.Known
// takes no lock of the link's (see Peers about lock order).
func (n *Node) keepsLocked(peers []*peer) map[netip.AddrPort]bool {
	kept := make(map[netip.AddrPort]bool, len(peers))
	if n.store == nil || n.plain {
		return kept
	}
	for _, p := range peers {
		kept[p.addr] = p.chosen && (p.kept || p.answered || n.knownBefore(p.addr))
	}
	return kept
}

// knownBefore reports whether a key answered at peer in an earlier run,
// if PeerCheck can tell.
func (n *Node) knownBefore(peer netip.AddrPort) bool {
	k, ok := n.peerCheck.(interface{ Known(netip.AddrPort) bool })
	return ok && k.Known(peer)
}

// encodeLocked builds the payload of one message from us. n.mu must be held
// (it reads n.name).
func (n *Node) encodeLocked(kind wire.ChatKind, id MessageID, text string) ([]byte, error) {
	if n.plain {
		if kind == wire.ChatAction {
			text = plainActionPrefix + text
		}
		return wire.AppendPlain(nil, n.name, text, n.plainMax)
	}
	return wire.AppendChat(nil, wire.ChatMessage{Kind: kind, ID: id, Name: n.name, Text: text})
}

// sendLocked gives payload, our message s, to the link for p — or holds it
// until p joins. n.mu must be held and n.link set; payload must not change
// afterwards.
//
// On a link with identities a peer gets our messages only once it has
// joined this session: once its hello (or any message) passed
// PeerCheck.CheckName. Before that its key is only known to have passed
// the handshake's check, which cannot see the name it will claim; an
// impostor at a new address under a known peer's name would otherwise get
// — and acknowledge — what we sent before its hello was refused. A held
// message waits, pending, as it would for an unreachable peer.
func (n *Node) sendLocked(p *peer, payload []byte, s Sent) error {
	if n.peerCheck != nil && !p.joined {
		return n.holdLocked(p, payload, s)
	}
	ref, err := n.link.Send(p.addr, payload)
	if err != nil {
		return err
	}
	if !n.plain {
		n.addPendingLocked(sentRef{peer: p.addr, ref: ref}, s)
	}
	return nil
}

// maxHeld bounds the bytes of messages held for peers that have not
// joined, as the link bounds what it queues: past it, a message is not
// sent (ErrHeldFull), as one the link cannot queue is not.
const maxHeld = 64 << 20

// ErrHeldFull is returned by Send when too much already waits for peers
// that have not joined.
var ErrHeldFull = errors.New("too much is waiting for peers that have not joined yet")

// holdLocked keeps our message s for p, pending, until p joins
// (releaseLocked). The first one held asks the link to reach p, as sending
// would have. n.mu must be held.
func (n *Node) holdLocked(p *peer, payload []byte, s Sent) error {
	if n.heldBytes+len(payload) > maxHeld {
		return ErrHeldFull
	}
	if len(p.held) == 0 {
		if err := n.link.Connect(p.addr); err != nil {
			return err
		}
	}
	n.heldSeq++
	r := sentRef{peer: p.addr, ref: n.heldSeq, held: true}
	n.addPendingLocked(r, s)
	ps := n.pending[r]
	ps.payload = payload
	n.pending[r] = ps
	n.heldBytes += len(payload)
	p.held = append(p.held, heldSend{ref: r})
	return nil
}

// releaseLocked gives the link, in order, what was held for p, which has
// just joined; those Cancel took meanwhile are gone. It returns an Error
// for each the link refuses, which is held again. n.mu must be held.
func (n *Node) releaseLocked(p *peer) []Event {
	held := p.held
	p.held = nil
	var evs []Event
	for _, h := range held {
		if h.hello != nil {
			if _, err := n.link.Send(p.addr, h.hello); err != nil {
				evs = append(evs, Error{Err: fmt.Errorf("introduce ourselves to %s: %w", p.addr, err)})
			}
			continue
		}
		r := h.ref
		ps, ok := n.pending[r]
		if !ok {
			continue
		}
		ref, err := n.link.Send(p.addr, ps.payload)
		if err != nil {
			evs = append(evs, Error{Err: fmt.Errorf("send %s to %s: %w; it waits", ps.ID, p.displayName(), err)})
			p.held = append(p.held, h)
			continue
		}
		delete(n.pending, r)
		n.heldBytes -= len(ps.payload)
		ps.payload = nil
		n.pending[sentRef{peer: p.addr, ref: ref}] = ps
	}
	return evs
}

// lockOpen takes n.outMu and then n.mu, as every change to the outbox
// begins, unless the node is closed: then it holds neither and returns
// ErrClosed.
func (n *Node) lockOpen() error {
	n.outMu.Lock()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.outMu.Unlock()
		return ErrClosed
	}
	return nil
}

func (n *Node) addPendingLocked(r sentRef, s Sent) {
	if len(n.pending) == 0 {
		n.drained = make(chan struct{})
	}
	n.sendSeq++
	n.pending[r] = pendingSent{seq: n.sendSeq, Sent: s}
}

// SetName changes our display name, remembers it (Config.SaveName) and,
// on a reliable link, tells every peer with a hello (peers show "* OLD is
// now known as NEW"). Plain datagrams carry the name each time, so there is
// nothing to tell. An error says what failed; the name has changed even so.
func (n *Node) SetName(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.name = name
	var errs []error
	if !n.plain {
		for _, p := range n.sortedPeersLocked() {
			if !p.member {
				continue // it has not had our name, nor will until it joins
			}
			if len(p.held) > 0 {
				// After what waits, which went under the old name: the
				// peer must end up knowing the new one.
				errs = append(errs, n.holdHelloLocked(p))
				continue
			}
			if p.greeted { // else its greeting, when due, has the new name
				errs = append(errs, n.sendHelloLocked(p.addr))
			}
		}
	}
	n.mu.Unlock()
	if n.saveName != nil { // not under mu: it writes a file
		errs = append(errs, n.saveName(name))
	}
	return errors.Join(errs...)
}

// features are what our ChatFeatures message says udpchat can do.
const features = wire.FeatureDirect

// greetLocked introduces us to p if that is due: p is a member, in session,
// and has not had our hello in this session. n.mu must be held; until New
// has the link, the hello waits (New greets every peer once it has it).
func (n *Node) greetLocked(p *peer) error {
	if !p.member || !p.inSession || p.greeted || n.plain || n.link == nil {
		return nil
	}
	p.greeted = true
	return n.introduceLocked(p.addr)
}

// introduceLocked starts a session's conversation with peer: a hello, and
// our features after it. n.mu must be held and n.link set.
func (n *Node) introduceLocked(peer netip.AddrPort) error {
	if err := n.sendHelloLocked(peer); err != nil {
		return err
	}
	f := features
	if n.sendOnly {
		f += " " + wire.FeatureSendOnly
	}
	// An error cannot happen: n.name passed ValidateName.
	b, err := wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatFeatures, ID: newID(), Name: n.name, Text: f})
	if err != nil {
		return err
	}
	return n.sendChatLocked(peer, b)
}

// sendHelloLocked introduces us (or our new name) to peer. n.mu must be
// held and n.link set.
func (n *Node) sendHelloLocked(peer netip.AddrPort) error {
	hello, err := n.helloLocked()
	if err != nil {
		return err
	}
	return n.sendChatLocked(peer, hello)
}

// sendChatLocked sends b, a payload of news about us that no one waits to
// see delivered, to peer. n.mu must be held and n.link set.
func (n *Node) sendChatLocked(peer netip.AddrPort, b []byte) error {
	// The ref is not kept: Delivered ignores refs it does not know.
	if _, err := n.link.Send(peer, b); err != nil {
		return fmt.Errorf("introduce ourselves to %s: %w", peer, err)
	}
	return nil
}

// holdHelloLocked puts a hello with our name in p's held queue, to go in
// its place after the messages held before it. n.mu must be held.
func (n *Node) holdHelloLocked(p *peer) error {
	hello, err := n.helloLocked()
	if err != nil {
		return err
	}
	p.held = append(p.held, heldSend{hello: hello})
	return nil
}

// helloLocked is a hello with our name. n.mu must be held.
func (n *Node) helloLocked() ([]byte, error) {
	// An error cannot happen: n.name passed ValidateName.
	return wire.AppendChat(nil, wire.ChatMessage{Kind: wire.ChatHello, ID: newID(), Name: n.name})
}

// Peers lists everyone in the conversation, sorted by address.
func (n *Node) Peers() []PeerInfo {
	n.mu.Lock()
	ps := n.sortedPeersLocked()
	infos := make([]PeerInfo, len(ps))
	for i, p := range ps {
		infos[i] = p.info()
	}
	n.mu.Unlock()
	// Not under mu: the link below has locks of its own, taken on paths
	// that end in the node.
	if n.peerCheck != nil {
		for i := range infos {
			infos[i].Fingerprint = n.peerCheck.Fingerprint(infos[i].Addr)
		}
	}
	return infos
}

func (n *Node) sortedPeersLocked() []*peer {
	ps := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *peer) int { return a.addr.Compare(b.addr) })
	return ps
}

// peerLocked returns the record of addr, adding one if it is new.
func (n *Node) peerLocked(addr netip.AddrPort) *peer {
	p := n.peers[addr]
	if p == nil {
		p = &peer{addr: addr}
		if n.plain {
			p.state = PeerPlain
		}
		n.peers[addr] = p
	}
	return p
}

// Undelivered lists what was sent and not yet delivered (nor cancelled),
// oldest first: what a UI reports when it gives up waiting. Without a store
// that is lost; with one it stays in the outbox, and the next start sends
// it again. In plain mode it is always empty, since nothing is
// acknowledged.
func (n *Node) Undelivered() []Sent {
	n.mu.Lock()
	ps := make([]pendingSent, 0, len(n.pending))
	for _, p := range n.pending {
		ps = append(ps, p)
	}
	n.mu.Unlock()
	slices.SortFunc(ps, func(a, b pendingSent) int { return cmp.Compare(a.seq, b.seq) })
	sent := make([]Sent, len(ps))
	for i, p := range ps {
		sent[i] = p.Sent
	}
	return sent
}

// WaitDelivered returns nil once nothing sent is undelivered, or ctx.Err()
// if ctx ends first.
func (n *Node) WaitDelivered(ctx context.Context) error {
	n.mu.Lock()
	drained := n.drained
	n.mu.Unlock()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close leaves the conversation: the link tells every peer we are leaving
// and waits until they have heard it or ctx ends. Events produced during
// Close still reach Events if it has room, and are otherwise dropped (and
// counted in Stats), since the UI may have stopped reading; Events is closed
// when Close returns. Calling Close again returns the first call's result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		link := n.link
		n.mu.Unlock()
		close(n.closing)
		n.closeErr = link.Close(ctx)
		n.closeEvents()
	})
	return n.closeErr
}

// Leave is Close for a UI that is done: it says goodbye even if ctx has
// ended (Ctrl-C is how people leave), waiting at most LeaveTimeout for peers
// to hear it.
func (n *Node) Leave(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), LeaveTimeout)
	defer cancel()
	return n.Close(ctx)
}
