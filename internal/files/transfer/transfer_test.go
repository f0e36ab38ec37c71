package transfer

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

var (
	alice = netip.MustParseAddrPort("192.0.2.1:7475")
	bob   = netip.MustParseAddrPort("192.0.2.2:7475")
)

// pipe carries payloads between two engines, in order, each direction on
// its own goroutine, as a reliable session does. drop, if set, says which
// payloads a session that ended lost.
type pipe struct {
	mu    sync.Mutex
	ends  map[netip.AddrPort]*Engine
	queue chan delivery
	drop  func(from netip.AddrPort, payload []byte) bool
	done  chan struct{}
}

type delivery struct {
	from, to netip.AddrPort
	payload  []byte
	barrier  chan struct{} // closed when every delivery before it is done
}

func newPipe(t *testing.T) *pipe {
	p := &pipe{ends: map[netip.AddrPort]*Engine{}, queue: make(chan delivery, 1<<16), done: make(chan struct{})}
	go func() {
		for d := range p.queue {
			if d.barrier != nil {
				close(d.barrier)
				continue
			}
			p.mu.Lock()
			to := p.ends[d.to]
			p.mu.Unlock()
			if to != nil {
				to.Receive(d.from, d.payload)
			}
		}
		close(p.done)
	}()
	t.Cleanup(func() { close(p.queue); <-p.done })
	return p
}

func (p *pipe) sender(from netip.AddrPort) func(netip.AddrPort, []byte) error {
	return func(to netip.AddrPort, payload []byte) error {
		p.mu.Lock()
		drop := p.drop != nil && p.drop(from, payload)
		p.mu.Unlock()
		if !drop {
			p.queue <- delivery{from: from, to: to, payload: bytes.Clone(payload)}
		}
		return nil
	}
}

// events collects an engine's events.
type events struct{ c chan Event }

func (ev events) emit(es []Event) {
	for _, e := range es {
		ev.c <- e
	}
}

// wait returns the first event of type T, failing on a Failed.
func wait[T Event](t *testing.T, ev events) T {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev.c:
			if got, ok := e.(T); ok {
				return got
			}
			if f, ok := e.(Failed); ok {
				var zero T
				if _, wantFailed := any(zero).(Failed); !wantFailed {
					t.Fatalf("transfer failed: %v", f.Err)
				}
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event", zero)
		}
	}
}

func (p *pipe) engine(t *testing.T, at netip.AddrPort, cfg Config) (*Engine, events) {
	ev := events{make(chan Event, 1<<14)}
	cfg.Send, cfg.Emit = p.sender(at), ev.emit
	e := New(cfg)
	p.mu.Lock()
	p.ends[at] = e
	p.mu.Unlock()
	t.Cleanup(e.Close)
	return e, ev
}

// setDrop changes what the pipe loses from now on.
func (p *pipe) setDrop(drop func(from netip.AddrPort, payload []byte) bool) {
	p.mu.Lock()
	p.drop = drop
	p.mu.Unlock()
}

// cutAtBlock makes the pipe lose everything alice sends from the first
// block numbered index or more on; the channel is closed then.
func (p *pipe) cutAtBlock(index uint64) <-chan struct{} {
	cut := make(chan struct{})
	p.setDrop(func(from netip.AddrPort, payload []byte) bool {
		select {
		case <-cut:
			return from == alice
		default:
		}
		if from == alice && payload[0] == wire.FileBlock {
			if k, _ := wire.ParseFileBlock(payload); k.Index >= index {
				close(cut)
				return true
			}
		}
		return false
	})
	return cut
}

// settle waits until every payload sent so far has been handled.
func (p *pipe) settle() {
	b := make(chan struct{})
	p.queue <- delivery{barrier: b}
	<-b
}

func (p *pipe) unplug(at netip.AddrPort) {
	p.mu.Lock()
	delete(p.ends, at)
	p.mu.Unlock()
}

func writeFile(t *testing.T, size int) (string, [32]byte) {
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(size)})
	r.Read(data)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, sha256.Sum256(data)
}

func checkFile(t *testing.T, path string, want [32]byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != want {
		t.Fatalf("%s is not the file sent", path)
	}
}

func TestSendAccepted(t *testing.T) {
	p := newPipe(t)
	path, sum := writeFile(t, 5<<20+123)
	dir := t.TempDir()
	a, aev := p.engine(t, alice, Config{})
	_, bev := p.engine(t, bob, Config{Dir: dir, AutoAccept: true})
	if _, err := a.Offer(bob, [32]byte{1}, path); err != nil {
		t.Fatal(err)
	}
	off := wait[Offered](t, bev)
	if off.Name != "data.bin" || off.Size != 5<<20+123 || off.Peer != alice {
		t.Fatalf("offer seen as %+v", off)
	}
	done := wait[Done](t, bev)
	checkFile(t, done.Path, sum)
	if filepath.Dir(done.Path) != dir {
		t.Fatalf("landed at %s, not in %s", done.Path, dir)
	}
	if want := off.Size>>16 + 1; done.Fetched != want || done.Resumed != 0 {
		t.Fatalf("fetched %d blocks, resumed %d; want %d, 0", done.Fetched, done.Resumed, want)
	}
	wait[Done](t, aev)
}

func TestDeclineAndCancel(t *testing.T) {
	p := newPipe(t)
	path, _ := writeFile(t, 100<<10)
	a, aev := p.engine(t, alice, Config{})
	b, bev := p.engine(t, bob, Config{Dir: t.TempDir()})
	a.Offer(bob, [32]byte{}, path)
	off := wait[Offered](t, bev)
	if err := b.Decline(off.ID); err != nil {
		t.Fatal(err)
	}
	f := wait[Failed](t, aev)
	if f.Reason != wire.FileReasonUser {
		t.Fatalf("declined with reason %d", f.Reason)
	}
	if err := b.Accept(off.ID); !errors.Is(err, ErrUnknown) {
		t.Fatalf("accepting a declined offer: %v", err)
	}
}

func TestTooBigDeclined(t *testing.T) {
	p := newPipe(t)
	path, _ := writeFile(t, 100<<10)
	a, aev := p.engine(t, alice, Config{})
	p.engine(t, bob, Config{Dir: t.TempDir(), MaxSize: 64 << 10, AutoAccept: true})
	a.Offer(bob, [32]byte{}, path)
	if f := wait[Failed](t, aev); f.Reason != wire.FileReasonTooBig {
		t.Fatalf("declined with reason %d (%v)", f.Reason, f.Err)
	}
}

// A request lost (the sender's session ended with it) stalls nothing for
// good: the receiver asks again.
func TestLostRequestsAskedAgain(t *testing.T) {
	defer func(d time.Duration) { stallAfter = d }(stallAfter)
	stallAfter = 300 * time.Millisecond
	p := newPipe(t)
	lost := 0
	p.setDrop(func(from netip.AddrPort, payload []byte) bool {
		if payload[0] == wire.FileRequest && lost < 3 {
			lost++
			return true
		}
		return false
	})
	path, sum := writeFile(t, 3<<20)
	a, _ := p.engine(t, alice, Config{})
	_, bev := p.engine(t, bob, Config{Dir: t.TempDir(), AutoAccept: true})
	a.Offer(bob, [32]byte{}, path)
	checkFile(t, wait[Done](t, bev).Path, sum)
}

// A receiver that stops mid-way (killed, restarted) takes the transfer up
// when the sender offers it again, and fetches only what it lacked.
func TestReceiverRestartFetchesOnlyMissing(t *testing.T) {
	p := newPipe(t)
	path, sum := writeFile(t, 12<<20)
	dir := t.TempDir()
	a, aev := p.engine(t, alice, Config{})
	b, bev := p.engine(t, bob, Config{Dir: dir, AutoAccept: true})
	// From block 100 on, everything is lost with the receiver.
	stopped := p.cutAtBlock(100)
	a.Offer(bob, [32]byte{}, path)
	<-stopped
	p.settle()
	p.unplug(bob)
	b.Close() // as a kill after its last checkpoint
	p.setDrop(nil)
	_, bev = p.engine(t, bob, Config{Dir: dir, AutoAccept: true})
	a.PeerUp(bob)
	off := wait[Offered](t, bev)
	if !off.Resumed {
		t.Fatalf("the offer again is not taken as a resume: %+v", off)
	}
	done := wait[Done](t, bev)
	checkFile(t, done.Path, sum)
	if total := uint64(12 << 4); done.Resumed != 100 || done.Fetched != total-100 {
		t.Fatalf("after the restart: %d blocks there, %d fetched, of %d", done.Resumed, done.Fetched, total)
	}
	wait[Done](t, aev)
}

func TestTraversalNameLandsInDir(t *testing.T) {
	p := newPipe(t)
	src, sum := writeFile(t, 10<<10)
	dir := t.TempDir()
	a, _ := p.engine(t, alice, Config{})
	_, bev := p.engine(t, bob, Config{Dir: dir, AutoAccept: true})
	// The offer's name is the sender's to choose: a hostile one goes in
	// place of the honest one.
	p.setDrop(func(_ netip.AddrPort, payload []byte) bool { return payload[0] == wire.FileOffer })
	info, err := a.Offer(bob, [32]byte{}, src)
	if err != nil {
		t.Fatal(err)
	}
	p.setDrop(nil)
	a.mu.Lock()
	o := a.out[info.ID]
	o.offer.Name = "../../etc/passwd"
	payload, _ := wire.AppendFileOffer(nil, o.offer)
	a.mu.Unlock()
	a.cfg.Send(bob, payload)
	done := wait[Done](t, bev)
	if filepath.Dir(done.Path) != dir || filepath.Base(done.Path) != "passwd" {
		t.Fatalf("a name of ../../etc/passwd landed at %s", done.Path)
	}
	checkFile(t, done.Path, sum)
}

// A sender that stops mid-way and offers the same file again (restarted,
// or run again, from another port) is the same transfer: the receiver asks
// for only what it lacks, and only that is sent.
func TestSenderRestartSendsOnlyMissing(t *testing.T) {
	p := newPipe(t)
	path, sum := writeFile(t, 12<<20)
	a, _ := p.engine(t, alice, Config{})
	_, bev := p.engine(t, bob, Config{Dir: t.TempDir(), AutoAccept: true})
	stopped := p.cutAtBlock(100)
	a.Offer(bob, [32]byte{9}, path)
	<-stopped
	p.settle()
	p.unplug(alice)
	a.Close()
	p.setDrop(nil)
	// Back on another port, as a send run again is.
	a, aev := p.engine(t, netip.MustParseAddrPort("192.0.2.1:40000"), Config{})
	if _, err := a.Offer(bob, [32]byte{9}, path); err != nil {
		t.Fatal(err)
	}
	checkFile(t, wait[Done](t, bev).Path, sum)
	if sent, total := wait[Done](t, aev).Fetched, uint64(12<<4); sent != total-100 {
		t.Fatalf("the sender sent %d blocks after its restart, want the %d missing", sent, total-100)
	}
}

// FuzzReceive: whatever a peer sends, after an offer or alone, from the
// offering peer or another, the engine does not panic.
func FuzzReceive(f *testing.F) {
	offer := wire.FileOfferMessage{ID: ID{1}, Size: 5000, BlockShift: wire.MinFileBlockShift, Name: "a"}
	seed, _ := wire.AppendFileOffer(nil, offer)
	f.Add(seed)
	req, _ := wire.AppendFileRequest(nil, wire.FileRequestMessage{ID: ID{1}, Ranges: []wire.FileRange{{First: 0, Count: 2}}})
	f.Add(req)
	blk, _ := wire.AppendFileBlock(nil, wire.FileBlockMessage{ID: ID{1}, Index: 1, Data: make([]byte, 904)})
	f.Add(blk)
	ctl, _ := wire.AppendFileControl(nil, wire.FileControlMessage{Kind: wire.FileCancel, ID: ID{1}})
	f.Add(ctl)
	f.Fuzz(func(t *testing.T, msg []byte) {
		dir := t.TempDir()
		e := New(Config{Dir: dir, AutoAccept: true, MaxSize: 1 << 20,
			Send: func(netip.AddrPort, []byte) error { return nil }})
		defer e.Close()
		e.Receive(alice, seed) // an offer under way, for what follows to touch
		e.Receive(alice, msg)
		e.Receive(bob, msg)
	})
}
