package chat_test

import (
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/chat/chattest"
	"github.com/udpchat/udpchat/internal/link"
	"github.com/udpchat/udpchat/internal/transport"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// fileNode starts a node on the transport at addr on mn, its datagrams
// impaired by imp, taking files as files says.
func fileNode(t *testing.T, mn *udptest.MemNetwork, addr, name string, imp udptest.Impairment, files chat.FileConfig) *chat.Node {
	t.Helper()
	conn, err := mn.Listen(netip.MustParseAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	return fileNodeOn(t, udptest.Impair(conn, imp), name, files)
}

// fileNodeOn starts a node named name on the transport over conn, taking
// files as files says; the test's end closes it.
func fileNodeOn(t testing.TB, conn udp.Conn, name string, files chat.FileConfig) *chat.Node {
	t.Helper()
	n, err := chat.New(chat.Config{Name: name, Files: files}, func(h link.Handler) (link.Link, error) {
		ep, err := transport.New(conn, h, transport.Config{})
		if err != nil {
			return nil, err
		}
		return ep, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

// joinedPair is two file nodes that have introduced themselves.
func joinedPair(t *testing.T, imp udptest.Impairment, files chat.FileConfig) (a, b *chat.Node) {
	mn := udptest.NewMemNetwork()
	a = fileNode(t, mn, "10.0.0.1:7475", "alice", imp, chat.FileConfig{})
	b = fileNode(t, mn, "10.0.0.2:7475", "bob", imp, files)
	if err := a.ConnectKept(b.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send("hi"); err != nil {
		t.Fatal(err)
	}
	waitFor[chat.Joined](t, a)
	waitFor[chat.Joined](t, b)
	return a, b
}

// waitFor returns n's next event of type T, failing on a FileFailed.
func waitFor[T chat.Event](t *testing.T, n *chat.Node) T {
	t.Helper()
	deadline := time.After(4 * chattest.WaitTimeout)
	for {
		select {
		case ev := <-n.Events():
			if got, ok := ev.(T); ok {
				return got
			}
			if f, ok := ev.(chat.FileFailed); ok {
				if _, want := any(f).(T); !want {
					t.Fatalf("file transfer failed: %v", f.Err)
				}
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event", zero)
		}
	}
}

func randomFile(t testing.TB, size int) (string, [32]byte) {
	t.Helper()
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(data)
	p := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, sha256.Sum256(data)
}

// A file offered, accepted and carried over a link that loses datagrams
// lands whole in the downloads dir.
func TestSendFileOverLossyLink(t *testing.T) {
	dir := t.TempDir()
	a, b := joinedPair(t, udptest.Impairment{Loss: 0.05, Seed: 3}, chat.FileConfig{Dir: dir})
	path, sum := randomFile(t, 3<<20+5)
	if _, err := a.SendFile(b.LocalAddr(), path); err != nil {
		t.Fatal(err)
	}
	off := waitFor[chat.FileOffer](t, b)
	if off.Name != "photo.jpg" || off.Size != 3<<20+5 || off.PeerName != "alice" || !off.Incoming {
		t.Fatalf("offer shown as %+v", off)
	}
	id, err := b.FindFile("")
	if err != nil || id != off.ID {
		t.Fatalf("the one offer waiting is %v (%v), not %v", id, err, off.ID)
	}
	if err := b.AcceptFile(id); err != nil {
		t.Fatal(err)
	}
	done := waitFor[chat.FileDone](t, b)
	got, err := os.ReadFile(done.Path)
	if err != nil || sha256.Sum256(got) != sum || filepath.Dir(done.Path) != dir {
		t.Fatalf("received %s (%v): not the file sent, or not in %s", done.Path, err, dir)
	}
	if sent := waitFor[chat.FileDone](t, a); sent.ID != off.ID || sent.Incoming {
		t.Fatalf("the sender heard %+v", sent)
	}
}

// A declined offer fails the sender's transfer, saying it was declined.
func TestSendFileDeclined(t *testing.T) {
	a, b := joinedPair(t, udptest.Impairment{}, chat.FileConfig{Dir: t.TempDir()})
	path, _ := randomFile(t, 1000)
	a.SendFile(b.LocalAddr(), path)
	off := waitFor[chat.FileOffer](t, b)
	if err := b.DeclineFile(off.ID); err != nil {
		t.Fatal(err)
	}
	if f := waitFor[chat.FileFailed](t, a); !f.Declined || f.ID != off.ID {
		t.Fatalf("the sender heard %+v", f)
	}
}

// A chat message sent while a file goes out arrives before the file is
// done: it waits behind at most the receiver's window of blocks.
func TestChatNotStuckBehindFile(t *testing.T) {
	a, b := joinedPair(t, udptest.Impairment{}, chat.FileConfig{Dir: t.TempDir(), AutoAccept: true})
	path, _ := randomFile(t, 32<<20)
	a.SendFile(b.LocalAddr(), path)
	waitFor[chat.FileOffer](t, b) // accepted: blocks are on their way
	if _, err := a.Send("while the file goes"); err != nil {
		t.Fatal(err)
	}
	for {
		switch ev := chattest.NextEvent(t, b).(type) {
		case chat.Message:
			return
		case chat.FileDone:
			t.Fatal("the file was done before the chat message came")
		case chat.FileFailed:
			t.Fatal(ev.Err)
		}
	}
}
