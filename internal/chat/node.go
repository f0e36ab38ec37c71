// Package chat is the node every UI drives: who is in the conversation, what
// they said, and which of our messages they have. It knows names and text but
// neither sockets nor terminals; a link.Link below it carries the bytes.
package chat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/udpchat/udpchat/internal/files/transfer"
	"github.com/udpchat/udpchat/internal/link"
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
	// KnownKeys are the keys known to have answered at each address before
	// people were kept by key (the trust file's): New gives the history
	// kept by address to those people, once per store (see
	// PeopleStore.AssignPeople), and says what it could not
	// (HistoryByAddress). Nil on a link without keys.
	KnownKeys map[netip.AddrPort][32]byte
	// SendOnly says this node only sends (udpchat send): its features say
	// so, and peers never make it a recipient of what they type, since it
	// will have gone by then (docs/PROTOCOL.md, the chat payload).
	SendOnly bool
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Paths, if not nil, says how the way to a peer (its handle) at
	// endpoint goes when there is more than one (a relay, and direct paths
	// punched past NATs): "relayed via HOST", "direct (LAN)", "direct";
	// "" for nothing to say. It must be quick: it runs under the node's
	// lock.
	Paths func(peer, endpoint netip.AddrPort) string
	// SaveName, if not nil, is called by SetName with the new name, to
	// remember it for the next start (udpchat keeps it in the data dir).
	SaveName func(name string) error
	// Files says whether and where files offered to us land (files.go).
	Files FileConfig
	// KnownName, if not nil, is the name the user knows a person by (a
	// contact's, the trust file's), "" for none: what PeersKnown calls a
	// peer that has not introduced itself in this run.
	KnownName func(person [32]byte) string
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
// and those that contacted it. It turns UI calls into payloads on its
// link.Link, and what the link reports (it is the link's Handler) into
// Events.
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
	people    PeopleStore  // the store, if it keeps contacts; else nil
	// expected is who answered at each address before (Config.KnownKeys):
	// the person a new record of the address is for, until one joins
	// there (see peer.person). Read-only once New returns.
	expected map[netip.AddrPort][32]byte
	// knownName is Config.KnownName, for PeersKnown.
	knownName func(person [32]byte) string
	// storeFailing says the last message Receive tried to store could not
	// be, and the user has been told; it is reset by the next success,
	// which is announced too (StoreRecovered), so that a store that keeps
	// failing is reported once, not once a retry.
	storeFailing atomic.Bool
	peerCheck    PeerCheck
	paths        func(peer, endpoint netip.AddrPort) string
	saveName     func(string) error // Config.SaveName
	warned       warnings
	rooms        roomCarrier // see CarryRooms

	// batching says Receive and Delivered hold what they are handed for
	// Sync, which stores it in one commit (see burst.go): the store can
	// (burstStore) and the link calls Sync. It is set once, when New has
	// the link; burst is touched only by the link's calls, one at a time.
	batching   atomic.Bool
	burstStore BurstStore
	burst      heldBurst

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
	// handled; that is safe because a link never calls its Handler while
	// holding a lock its Send needs. It is never held while waiting for the
	// UI to read an event (see turn.go).
	mu      sync.Mutex
	link    link.Link // nil until newLink returns, in New
	name    string
	closed  bool
	peers   map[netip.AddrPort]*peer
	pending map[sentRef]pendingSent // sent and not yet delivered
	// pendingByID indexes pending by message ID: the copies of one
	// message, to its recipients or to one person at two addresses.
	pendingByID map[MessageID][]sentRef
	// cancelled are the messages Cancel took out of pending, which the
	// link may still deliver.
	cancelled map[sentRef]pendingSent
	// pendingDropped counts entries dropPeerLocked took out of pending
	// since pending was last made anew.
	pendingDropped int
	sendSeq        uint64        // orders pending by when it was sent
	heldSeq        uint64        // numbers the refs of held messages (see holdLocked)
	heldBytes      int           // of the payloads held, at most maxHeld
	drained        chan struct{} // closed whenever pending is empty
	// inMailboxes counts the pending messages a relay holds; settled is
	// closed whenever that is all of them (none pending included).
	inMailboxes int
	settled     chan struct{}
	lastTurn    <-chan struct{} // the done channel of the latest turn

	// nearby is who LAN discovery hears (see nearby.go).
	nearby nearbySet

	// plainClock counts plain datagrams received: when each peer was last
	// heard, for the plain peer table's evictions.
	plainClock uint64

	// files runs the file transfers (files.go); nil on the plain link.
	files *transfer.Engine
	// transfers records them in the store (transferlog.go).
	transfers transferLog
}

// sentRef names one message on the link: the peer and the ref link.Send
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
	// row is the peer the store has the message under (PeerKey of the
	// address it was first sent to), and person its recipient's key, zero
	// if not known: with it the message follows the person (follow.go).
	row    string
	person [32]byte
	// name is ours when it was sent, for the payload sent again to the
	// person's new address.
	name string
	// payload is a held message's, for the link once the peer joins.
	payload []byte
	// mailedAt is when a relay last said it holds it in the recipient's
	// mailbox (mail.go); zero while none does.
	mailedAt time.Time
}

// inMailbox says a relay holds s in its recipient's mailbox.
func (s pendingSent) inMailbox() bool { return !s.mailedAt.IsZero() }

// New returns a node that runs on the link newLink builds with the node as
// its Handler. The link may call the node before newLink returns. The
// reliable transport (transport.Endpoint) and the seed-compatible plain
// link (plain.Link) are links; the node does not know which it has beyond
// Config.Plain.
func New(cfg Config, newLink func(link.Handler) (link.Link, error)) (*Node, error) {
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
		plain:       cfg.Plain,
		sendOnly:    cfg.SendOnly,
		knownName:   cfg.KnownName,
		plainMax:    cmp.Or(cfg.PlainMax, wire.DefaultPlainMax),
		security:    cfg.Security,
		peerCheck:   cfg.PeerCheck,
		paths:       cfg.Paths,
		saveName:    cfg.SaveName,
		log:         log,
		events:      make(chan Event, eventBuffer),
		closing:     make(chan struct{}),
		name:        cfg.Name,
		peers:       make(map[netip.AddrPort]*peer),
		pending:     make(map[sentRef]pendingSent),
		pendingByID: make(map[MessageID][]sentRef),
		store:       cfg.Store,
		cancelled:   make(map[sentRef]pendingSent),
		drained:     closedChan,
		settled:     closedChan,
		lastTurn:    closedChan,
	}
	if !n.plain {
		n.files = n.newFiles(cfg.Files)
		n.transfers.st, _ = cfg.Store.(TransferStore)
		n.people, _ = cfg.Store.(PeopleStore)
		n.expected = make(map[netip.AddrPort][32]byte, len(cfg.KnownKeys))
		for addr, key := range cfg.KnownKeys {
			n.expected[Unmap(addr)] = key
		}
	}
	var pending, unshown []store.Message
	var startEvents []Event
	if n.store != nil {
		// Read before the link exists, so a store that cannot be read
		// stops udpchat before it has a socket to clean up.
		var err error
		if n.people != nil && cfg.KnownKeys != nil {
			if startEvents, err = n.assignPeople(cfg.KnownKeys); err != nil {
				return nil, err
			}
		}
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
	startEvents = append(startEvents, unshownEvents(unshown)...)
	var replay turn
	if len(startEvents) > 0 {
		n.mu.Lock()
		replay = n.takeTurnLocked()
		n.mu.Unlock()
	}
	l, err := newLink(n)
	if err != nil {
		return nil, err
	}
	if bs, ok := n.store.(BurstStore); ok && !n.plain {
		if _, ok := l.(link.SyncingLink); ok {
			n.burstStore = bs
			n.batching.Store(true)
		}
	}
	if len(startEvents) > 0 {
		// No one reads Events until New returns (see below).
		go n.emit(replay, startEvents)
	}
	n.update(func() []Event {
		n.link = l
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
		// Where each person waited for was last seen: not the store.
		lastSeen := make(map[[32]byte]netip.AddrPort)
		for _, m := range pending {
			if _, done := lastSeen[m.Person]; done || m.Person == ([32]byte{}) {
				continue
			}
			if addr, ok := n.lastSeenAt(m.Person); ok {
				lastSeen[m.Person] = addr
			}
		}
		n.outMu.Lock()
		evs := n.requeueLocked(pending, lastSeen)
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

// Close leaves the conversation: the link tells every peer we are leaving
// and waits until they have heard it or ctx ends. Events produced during
// Close still reach Events if it has room, and are otherwise dropped (and
// counted in Stats), since the UI may have stopped reading; Events is closed
// when Close returns. Calling Close again returns the first call's result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		for _, p := range n.peers {
			p.stopFeatureWait()
		}
		l := n.link
		n.mu.Unlock()
		close(n.closing)
		if n.files != nil {
			n.files.Close() // what is being received is saved for later
		}
		n.closeErr = l.Close(ctx)
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
