// Package transfer moves files between people of the chat: it turns the
// files core (internal/files: offers, proved blocks, the resumable
// receiver) into transfers that run on their own. It sends offers, accepts
// or declines those it receives, asks for blocks a window at a time,
// answers what the other side asks, keeps what arrived across a restart,
// and reports progress. It does no I/O of its own but the files': the chat
// hands it the file payloads a peer sent (Receive) and carries those it
// sends (Config.Send), so it knows neither sessions nor names.
//
// Flow control is the receiver's: it keeps at most Config.Window blocks
// asked for and not yet arrived, and the sender answers a request at once.
// So at most a window of blocks waits in the sender's transport queue to a
// peer, and a chat message, which the transport delivers in order behind
// them, waits for at most that window (2 MiB by default) and not the file.
// The transport's congestion control paces the blocks as any message.
package transfer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/udpchat/udpchat/internal/files"
	"github.com/udpchat/udpchat/internal/wire"
)

// ID names a transfer on both sides for its whole life.
type ID = [wire.FileIDLen]byte

// DefaultWindow is how many blocks a receiver keeps asked for: 2 MiB of
// 64 KiB blocks, twice the transport's receive window, so that the pipe
// stays full while the next request travels, and a chat message waits
// behind no more than that.
const DefaultWindow = 32

// checkpointEvery is how many blocks make the engine save a receiver's
// have-bitmap, more often than the core's own 256: at most 4 MiB of
// 64 KiB blocks arrive again after a crash.
const checkpointEvery = 64

// stallAfter is how long a receiver waits for any block of a transfer it
// asked for before asking again for all it lacks: a request lost with a
// session that ended (the sender restarted) is not lost for good.
var stallAfter = 3 * time.Second

// progressEvery bounds how often a transfer reports its progress.
const progressEvery = 200 * time.Millisecond

// Errors of the engine's calls.
var (
	ErrUnknown = errors.New("no such file transfer")
	ErrState   = errors.New("the file transfer is not waiting for that")
	ErrNoDir   = errors.New("no downloads dir to receive files into")
)

// Config says where files land and how the engine talks.
type Config struct {
	// Dir is the downloads dir. "" declines every offer.
	Dir string
	// MaxSize is the largest offer accepted, in bytes (0: files.DefaultMaxSize).
	MaxSize uint64
	// AutoAccept accepts every offer under MaxSize at once.
	AutoAccept bool
	// Window is how many blocks a receiver keeps asked for (0: DefaultWindow).
	Window int
	// Send carries a file payload to peer over its reliable session.
	Send func(peer netip.AddrPort, payload []byte) error
	// SendBlock carries a block, which may wait behind the peer's other
	// messages (link.BulkSender); nil: Send.
	SendBlock func(peer netip.AddrPort, payload []byte) error
	// Emit hands events up, in order. It is called without the engine's
	// lock, and may wait for the UI; so a UI calls the engine (through the
	// chat) from another goroutine than the one reading events.
	Emit func([]Event)
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// Engine runs the transfers of one node. Its methods may be called from
// several goroutines at once.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	// ticking says the timer of receivers (tick) runs: from the first
	// transfer received on, so that an engine that never receives (a
	// send, a node in a test) has no goroutine to stop. Guarded by mu.
	ticking bool
	closed  bool // Close began: no goroutine starts any more

	mu  sync.Mutex
	out map[ID]*outgoing
	in  map[ID]*incoming
}

// New returns an engine; Close stops it.
func New(cfg Config) *Engine {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.SendBlock == nil {
		cfg.SendBlock = cfg.Send
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = files.DefaultMaxSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{cfg: cfg, log: log, stop: make(chan struct{}), out: map[ID]*outgoing{}, in: map[ID]*incoming{}}
}

// Close stops the engine: what is being received is saved for Resume, the
// sources are closed. Nothing is sent.
func (e *Engine) Close() { e.once.Do(e.close) }

func (e *Engine) close() {
	e.mu.Lock()
	e.ticking = true // none from now on
	e.closed = true
	e.mu.Unlock()
	close(e.stop)
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, t := range e.in {
		if t.r != nil {
			t.r.Close()
		}
		delete(e.in, id)
	}
	for id := range e.out {
		e.removeOutLocked(id)
	}
}

// outgoing is a file we offered.
type outgoing struct {
	peer     netip.AddrPort
	offer    wire.FileOfferMessage
	src      *files.Source
	accepted bool
	// reqs are the requests to answer, in order, on the transfer's own
	// goroutine (serveOut); gone is closed when the transfer ends.
	reqs  chan wire.FileRequestMessage
	gone  chan struct{}
	sent  uint64 // blocks sent
	meter meter
}

// incoming is a file offered to us.
type incoming struct {
	peer  netip.AddrPort
	offer wire.FileOfferMessage
	r     *files.Receiver // nil until accepted
	// next is where the last request ended; asked is how many blocks are
	// asked for and not yet arrived.
	next, asked uint64
	lastBlock   time.Time
	saved       uint64 // Have at the last checkpoint
	resumed     uint64 // blocks there when this run took it up
	meter       meter
}

// OfferID is the transfer ID of the file o offers (its ID aside) to the
// person of key to: the same content under the same name to the same key
// is the same transfer, so a sender that restarts (or a user who sends it
// again) resumes it and the receiver fetches only what it lacks.
func OfferID(o wire.FileOfferMessage, to [32]byte) ID {
	h, _ := blake2b.New256([]byte("udpchat file transfer id"))
	h.Write(o.Root[:])
	h.Write(binary.BigEndian.AppendUint64(nil, o.Size))
	h.Write([]byte{o.BlockShift})
	h.Write([]byte(o.Name))
	h.Write(to[:])
	var id ID
	copy(id[:], h.Sum(nil))
	return id
}

// Offer hashes the file at path and offers it to peer, the person of key
// to (zero if not known). It returns the transfer, which Events name. An
// Offering event goes up before the offer; if the offer then cannot be
// sent, the error comes with that transfer's Info, so that whoever
// recorded the Offering can record its end.
func (e *Engine) Offer(peer netip.AddrPort, to [32]byte, path string) (Info, error) {
	src, err := files.OpenSource(path, wire.DefaultFileBlockShift)
	if err != nil {
		return Info{}, err
	}
	return e.OfferSource(peer, to, src)
}

// OfferSource is Offer of a file hashed already: src, which the transfer
// closes when it ends (Share it first to offer it to several people).
func (e *Engine) OfferSource(peer netip.AddrPort, to [32]byte, src *files.Source) (Info, error) {
	offer := src.Offer(ID{})
	offer.ID = OfferID(offer, to)
	payload, err := wire.AppendFileOffer(nil, offer)
	if err != nil {
		src.Close()
		return Info{}, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		src.Close()
		return Info{}, errors.New("the file engine is closed")
	}
	e.removeOutLocked(offer.ID) // offered again: this one takes over
	t := &outgoing{peer: peer, offer: offer, src: src,
		reqs: make(chan wire.FileRequestMessage, requestQueue), gone: make(chan struct{})}
	e.out[offer.ID] = t
	e.wg.Add(1)
	go e.serveOut(t)
	info := t.info()
	e.mu.Unlock()
	e.flush([]Event{Offering{Info: info}}, nil)
	if err := e.cfg.Send(peer, payload); err != nil {
		e.mu.Lock()
		if e.out[offer.ID] == t {
			e.removeOutLocked(offer.ID)
		}
		e.mu.Unlock()
		return info, err
	}
	return info, nil
}

// Accept takes an offer into the downloads dir.
func (e *Engine) Accept(id ID) error {
	e.mu.Lock()
	t := e.in[id]
	if t == nil {
		e.mu.Unlock()
		return ErrUnknown
	}
	if t.r != nil {
		e.mu.Unlock()
		return ErrState
	}
	evs, sends := e.acceptLocked(t)
	e.mu.Unlock()
	e.flush(evs, sends)
	return nil
}

// Decline refuses an offer; the sender hears the person declined it.
func (e *Engine) Decline(id ID) error {
	e.mu.Lock()
	t := e.in[id]
	if t == nil || t.r != nil {
		e.mu.Unlock()
		if t == nil {
			return ErrUnknown
		}
		return ErrState
	}
	delete(e.in, id)
	e.mu.Unlock()
	e.flush([]Event{t.failed(wire.FileReasonUser, errors.New("declined"))},
		[]send{control(t.peer, wire.FileDecline, id, wire.FileReasonUser)})
	return nil
}

// Cancel stops a transfer either way; the other side hears the person
// cancelled it. What a cancelled receive had is removed.
func (e *Engine) Cancel(id ID) error {
	e.mu.Lock()
	var ev Event
	var peer netip.AddrPort
	if t := e.in[id]; t != nil {
		delete(e.in, id)
		if t.r != nil {
			t.r.Abort()
		}
		ev, peer = t.failed(wire.FileReasonUser, errors.New("cancelled here")), t.peer
	} else if t := e.out[id]; t != nil {
		e.removeOutLocked(id)
		ev, peer = t.failed(wire.FileReasonUser, errors.New("cancelled here")), t.peer
	} else {
		e.mu.Unlock()
		return ErrUnknown
	}
	e.mu.Unlock()
	e.flush([]Event{ev}, []send{control(peer, wire.FileCancel, id, wire.FileReasonUser)})
	return nil
}

// Transfers lists the transfers under way.
func (e *Engine) Transfers() []Info {
	e.mu.Lock()
	defer e.mu.Unlock()
	var is []Info
	for _, t := range e.out {
		is = append(is, t.info())
	}
	for _, t := range e.in {
		is = append(is, t.info())
	}
	return is
}

// PeerUp says a new session with peer began (it, or we, restarted): what
// we offered it is offered again, since the new incarnation may not know
// it, and what we receive from it is asked for again.
func (e *Engine) PeerUp(peer netip.AddrPort) {
	e.mu.Lock()
	var sends []send
	for _, t := range e.out {
		if t.peer == peer {
			payload, _ := wire.AppendFileOffer(nil, t.offer)
			sends = append(sends, send{peer, payload})
		}
	}
	for _, t := range e.in {
		if t.peer == peer && t.r != nil {
			t.next, t.asked = 0, 0
			sends = append(sends, e.requestLocked(t)...)
		}
	}
	e.mu.Unlock()
	e.flush(nil, sends)
}

// Receive handles a file payload from peer: wire.IsFileKind(msg[0]). A
// message that does not parse, or names a transfer peer has no part in, is
// dropped and logged; it returns the error for the caller to count.
func (e *Engine) Receive(peer netip.AddrPort, msg []byte) error {
	if len(msg) == 0 || !wire.IsFileKind(msg[0]) {
		return fmt.Errorf("%w: not a file message", wire.ErrType)
	}
	var err error
	switch msg[0] {
	case wire.FileOffer:
		var o wire.FileOfferMessage
		if o, err = wire.ParseFileOffer(msg); err == nil {
			e.offered(peer, o)
		}
	case wire.FileRequest:
		var r wire.FileRequestMessage
		if r, err = wire.ParseFileRequest(msg); err == nil {
			err = e.queueRequest(peer, r)
		}
	case wire.FileBlock:
		var b wire.FileBlockMessage
		if b, err = wire.ParseFileBlock(msg); err == nil {
			err = e.block(peer, b)
		}
	default:
		var c wire.FileControlMessage
		if c, err = wire.ParseFileControl(msg); err == nil {
			err = e.controlled(peer, c)
		}
	}
	if err != nil {
		e.log.Debug("file message dropped", "peer", peer, "kind", msg[0], "err", err)
	}
	return err
}

// offered: an offer, new, or again (the sender restarted, or we did).
func (e *Engine) offered(peer netip.AddrPort, o wire.FileOfferMessage) {
	e.mu.Lock()
	t := e.in[o.ID]
	if t != nil {
		if t.offer != o {
			e.mu.Unlock()
			e.log.Debug("an offer of a transfer ID in use, of other content: dropped", "peer", peer)
			return
		}
		// The same offer from another address is the sender back from a
		// restart on another port (send takes a free one each time) or
		// network: the transfer follows it. Only the offered content can
		// pass the blocks' checks, whoever sends them.
		t.peer = peer
		var sends []send
		if t.r != nil { // the sender restarted: what we asked may be lost
			t.next, t.asked = 0, 0
			sends = e.requestLocked(t)
		}
		e.mu.Unlock()
		e.flush(nil, sends)
		return
	}
	t = &incoming{peer: peer, offer: o}
	e.in[o.ID] = t
	var evs []Event
	var sends []send
	// One we accepted before a restart of ours goes on at once.
	if e.cfg.Dir != "" {
		if r, err := files.Resume(e.cfg.Dir, o.ID); err == nil {
			if r.Offer() == o {
				t.r, t.resumed, t.saved = r, r.Have(), r.Have()
				t.lastBlock = time.Now()
				e.startTickLocked()
				evs = append(evs, t.offered(true))
				sends = e.requestLocked(t)
				e.mu.Unlock()
				e.flush(evs, sends)
				return
			}
			r.Close()
		}
	}
	evs = append(evs, t.offered(false))
	switch {
	case e.cfg.Dir == "":
		delete(e.in, o.ID)
		evs = append(evs, t.failed(wire.FileReasonOther, ErrNoDir))
		sends = append(sends, control(peer, wire.FileDecline, o.ID, wire.FileReasonOther))
	case o.Size > e.cfg.MaxSize:
		delete(e.in, o.ID)
		err := fmt.Errorf("%w: %d bytes, the limit is %d", files.ErrTooBig, o.Size, e.cfg.MaxSize)
		evs = append(evs, t.failed(wire.FileReasonTooBig, err))
		sends = append(sends, control(peer, wire.FileDecline, o.ID, wire.FileReasonTooBig))
	case e.cfg.AutoAccept:
		more, s := e.acceptLocked(t)
		evs, sends = append(evs, more...), s
	}
	e.mu.Unlock()
	e.flush(evs, sends)
}

// acceptLocked opens the receiver of t and asks for the first window.
func (e *Engine) acceptLocked(t *incoming) ([]Event, []send) {
	id := t.offer.ID
	if e.cfg.Dir == "" {
		delete(e.in, id)
		return []Event{t.failed(wire.FileReasonOther, ErrNoDir)}, []send{control(t.peer, wire.FileDecline, id, wire.FileReasonOther)}
	}
	r, err := files.Receive(e.cfg.Dir, t.offer, files.Limits{MaxSize: e.cfg.MaxSize})
	if errors.Is(err, os.ErrExist) {
		r, err = files.Resume(e.cfg.Dir, id)
	}
	if err != nil {
		delete(e.in, id)
		reason := wire.FileReasonLocalError
		if errors.Is(err, files.ErrTooBig) {
			reason = wire.FileReasonTooBig
		}
		return []Event{t.failed(reason, err)}, []send{control(t.peer, wire.FileDecline, id, reason)}
	}
	t.r, t.resumed, t.saved = r, r.Have(), r.Have()
	t.lastBlock = time.Now()
	e.startTickLocked()
	payload, _ := wire.AppendFileControl(nil, wire.FileControlMessage{Kind: wire.FileAccept, ID: id})
	sends := []send{{t.peer, payload}}
	if r.Complete() {
		evs, more := e.finishLocked(t)
		return evs, append(sends, more...)
	}
	return nil, append(sends, e.requestLocked(t)...)
}

// requestLocked asks for more of t's missing blocks while fewer than half
// a window are asked for: requests go a half window at a time.
func (e *Engine) requestLocked(t *incoming) []send {
	w := uint64(e.cfg.Window)
	if t.asked > w/2 {
		return nil
	}
	rs := t.r.Missing(t.next, w-t.asked)
	if len(rs) == 0 {
		return nil
	}
	for _, rg := range rs {
		t.asked += rg.Count
	}
	last := rs[len(rs)-1]
	t.next = last.First + last.Count
	payload, err := wire.AppendFileRequest(nil, wire.FileRequestMessage{ID: t.offer.ID, Ranges: rs})
	if err != nil {
		return nil
	}
	return []send{{t.peer, payload}}
}

// requestQueue bounds the requests of a transfer waiting to be answered: a
// receiver keeps at most a window asked for, a half window a request, so
// a handful is plenty; one past it is dropped (the receiver asks again).
const requestQueue = 16

// removeOutLocked ends our offer id, if there is one: its goroutine stops
// and its file is closed (a read under way fails, and is ignored).
func (e *Engine) removeOutLocked(id ID) {
	t := e.out[id]
	if t == nil {
		return
	}
	delete(e.out, id)
	close(t.gone)
	t.src.Close()
}

// queueRequest hands a request to its transfer's goroutine: reading and
// checking blocks (a stat, a read and a hash each) on the link's goroutine
// would hold up acknowledgements and chat messages.
func (e *Engine) queueRequest(peer netip.AddrPort, r wire.FileRequestMessage) error {
	e.mu.Lock()
	t := e.out[r.ID]
	e.mu.Unlock()
	if t == nil || t.peer != peer {
		return ErrUnknown
	}
	select {
	case t.reqs <- r:
	default:
		e.log.Debug("a file request dropped: too many wait", "peer", peer)
	}
	return nil
}

// serveOut answers t's requests in order until t ends or the engine closes.
func (e *Engine) serveOut(t *outgoing) {
	defer e.wg.Done()
	for {
		select {
		case r := <-t.reqs:
			e.requested(t.peer, r)
		case <-t.gone:
			return
		case <-e.stop:
			return
		}
	}
}

// requested answers a request with the blocks it names.
func (e *Engine) requested(peer netip.AddrPort, r wire.FileRequestMessage) error {
	e.mu.Lock()
	t := e.out[r.ID]
	if t == nil || t.peer != peer {
		e.mu.Unlock()
		return ErrUnknown
	}
	t.accepted = true
	src, n := t.src, t.offer.Blocks()
	e.mu.Unlock()
	// Each block goes as soon as it is read, not once the whole request
	// is: the path carries the first while the next is read and checked.
	var sent uint64
	var payload []byte
	for _, rg := range r.Ranges {
		for i := rg.First; i < rg.First+rg.Count && i < n; i++ {
			b, err := src.ReadBlock(r.ID, i)
			if err != nil {
				return e.failOut(t, wire.FileReasonSourceChanged, err)
			}
			if payload, err = wire.AppendFileBlock(payload[:0], b); err != nil {
				return err
			}
			if err := e.cfg.SendBlock(peer, payload); err != nil { // it copies payload
				e.log.Debug("file block not sent", "peer", peer, "err", err)
			}
			sent++
		}
	}
	e.mu.Lock()
	var evs []Event
	if e.out[r.ID] == t {
		t.sent += sent
		if ev, ok := t.progress(time.Now(), false); ok {
			evs = append(evs, ev)
		}
	}
	e.mu.Unlock()
	e.flush(evs, nil)
	return nil
}

// failOut gives up our offer t, telling the peer why, unless it ended (or
// was offered anew) meanwhile.
func (e *Engine) failOut(t *outgoing, reason wire.FileCancelReason, err error) error {
	id := t.offer.ID
	e.mu.Lock()
	if e.out[id] != t {
		e.mu.Unlock()
		return err
	}
	e.removeOutLocked(id)
	e.mu.Unlock()
	e.flush([]Event{t.failed(reason, err)}, []send{control(t.peer, wire.FileCancel, id, reason)})
	return err
}

// block takes one block of a transfer we accepted.
func (e *Engine) block(peer netip.AddrPort, b wire.FileBlockMessage) error {
	e.mu.Lock()
	t := e.in[b.ID]
	if t == nil || t.peer != peer || t.r == nil {
		e.mu.Unlock()
		return ErrUnknown
	}
	now := time.Now()
	t.lastBlock = now
	if t.asked > 0 {
		t.asked--
	}
	if err := t.r.Deliver(b); err != nil {
		delete(e.in, b.ID)
		reason := wire.FileReasonLocalError
		if errors.Is(err, files.ErrBadBlock) {
			reason = wire.FileReasonBadBlock
		}
		t.r.Abort()
		e.mu.Unlock()
		e.flush([]Event{t.failed(reason, err)}, []send{control(peer, wire.FileCancel, b.ID, reason)})
		return err
	}
	var evs []Event
	var sends []send
	if t.r.Complete() {
		evs, sends = e.finishLocked(t)
	} else {
		if t.r.Have()-t.saved >= checkpointEvery {
			if err := t.r.Checkpoint(); err != nil {
				e.log.Debug("checkpoint", "err", err)
			}
			t.saved = t.r.Have()
		}
		if ev, ok := t.progress(now, false); ok {
			evs = append(evs, ev)
		}
		sends = e.requestLocked(t)
	}
	e.mu.Unlock()
	e.flush(evs, sends)
	return nil
}

// finishLocked puts a complete file in place and tells the sender, or asks
// again for blocks the disk damaged.
func (e *Engine) finishLocked(t *incoming) ([]Event, []send) {
	id := t.offer.ID
	p, err := t.r.Finish()
	switch {
	case errors.Is(err, files.ErrRefetch):
		t.next, t.asked = 0, 0
		return nil, e.requestLocked(t)
	case err != nil:
		delete(e.in, id)
		t.r.Abort()
		reason := wire.FileReasonLocalError
		if errors.Is(err, files.ErrBadBlock) {
			reason = wire.FileReasonBadBlock
		}
		return []Event{t.failed(reason, err)}, []send{control(t.peer, wire.FileCancel, id, reason)}
	}
	delete(e.in, id)
	payload, _ := wire.AppendFileControl(nil, wire.FileControlMessage{Kind: wire.FileDone, ID: id, Root: t.offer.Root})
	ev, _ := t.progress(time.Now(), true)
	st := t.r.Stats()
	return []Event{ev, Done{Info: t.info(), Path: p, Fetched: st.Written, Resumed: t.resumed, Duplicates: st.Duplicates}}, []send{{t.peer, payload}}
}

// controlled handles an accept, decline, cancel or done.
func (e *Engine) controlled(peer netip.AddrPort, c wire.FileControlMessage) error {
	e.mu.Lock()
	if t := e.out[c.ID]; t != nil && t.peer == peer {
		var evs []Event
		switch c.Kind {
		case wire.FileAccept:
			t.accepted = true
			e.mu.Unlock()
			return nil
		case wire.FileDecline:
			evs = append(evs, t.failed(c.Reason, fmt.Errorf("declined: %s", reasonText(c.Reason))))
		case wire.FileCancel:
			evs = append(evs, t.failed(c.Reason, fmt.Errorf("cancelled by the receiver: %s", reasonText(c.Reason))))
		case wire.FileDone:
			if c.Root != t.offer.Root {
				evs = append(evs, t.failed(wire.FileReasonOther, errors.New("the receiver finished with another content")))
			} else {
				p, _ := t.progress(time.Now(), true)
				evs = append(evs, p, Done{Info: t.info(), Fetched: t.sent})
			}
		}
		e.removeOutLocked(c.ID)
		e.mu.Unlock()
		e.flush(evs, nil)
		return nil
	}
	if t := e.in[c.ID]; t != nil && t.peer == peer && c.Kind == wire.FileCancel {
		delete(e.in, c.ID)
		if t.r != nil {
			t.r.Abort()
		}
		e.mu.Unlock()
		e.flush([]Event{t.failed(c.Reason, fmt.Errorf("cancelled by the sender: %s", reasonText(c.Reason)))}, nil)
		return nil
	}
	e.mu.Unlock()
	return ErrUnknown
}

// startTickLocked starts tick, once.
func (e *Engine) startTickLocked() {
	if !e.ticking {
		e.ticking = true
		e.wg.Add(1)
		go e.tick()
	}
}

// tick saves receivers' progress and asks again where blocks stopped coming.
func (e *Engine) tick() {
	defer e.wg.Done()
	tk := time.NewTicker(stallAfter / 3)
	defer tk.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-tk.C:
			e.mu.Lock()
			var sends []send
			for _, t := range e.in {
				if t.r == nil {
					continue
				}
				if t.r.Have() != t.saved {
					t.r.Checkpoint()
					t.saved = t.r.Have()
				}
				if now.Sub(t.lastBlock) > stallAfter {
					t.lastBlock = now
					t.next, t.asked = 0, 0
					sends = append(sends, e.requestLocked(t)...)
				}
			}
			e.mu.Unlock()
			e.flush(nil, sends)
		}
	}
}

// send is a payload to carry.
type send struct {
	peer    netip.AddrPort
	payload []byte
}

func control(peer netip.AddrPort, kind uint8, id ID, reason wire.FileCancelReason) send {
	payload, _ := wire.AppendFileControl(nil, wire.FileControlMessage{Kind: kind, ID: id, Reason: reason})
	return send{peer, payload}
}

// flush carries sends, then emits evs, without the engine's lock.
func (e *Engine) flush(evs []Event, sends []send) {
	for _, s := range sends {
		if err := e.cfg.Send(s.peer, s.payload); err != nil {
			e.log.Debug("file message not sent", "peer", s.peer, "err", err)
		}
	}
	if len(evs) > 0 && e.cfg.Emit != nil {
		e.cfg.Emit(evs)
	}
}
