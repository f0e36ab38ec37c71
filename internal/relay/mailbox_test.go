package relay

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/wire"
)

func TestMailWaitsForOfflineRecipientAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	relayKey := newKey(t)
	bobKey := newKey(t)
	secret := []byte("see you at the harbour at six")

	// Alice leaves mail for bob, who is offline, and goes.
	mail := openMailboxes(t, dir)
	r1 := startRelay(t, Config{Static: relayKey, Mailboxes: mail})
	alice := startClient(t, r1, newKey(t))
	blob, err := SealMail(alice.key, bobKey.Public(), secret)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if status, err := alice.PutMail(ctx, bobKey.Public(), blob); err != nil || status != wire.MailStored {
		t.Fatalf("PutMail: status %d, %v; want stored", status, err)
	}
	alice.stop()
	r1.stop()
	if err := mail.Close(); err != nil {
		t.Fatal(err)
	}

	// The relay restarts on its store; bob comes and is handed the mail.
	mail = openMailboxes(t, dir)
	defer mail.Close()
	r2 := startRelay(t, Config{Static: relayKey, Mailboxes: mail})
	bob := startClient(t, r2, bobKey)
	got := receive(t, bob.mails, "bob's mail")
	from, msg, err := OpenMail(bob.key, got.Blob)
	if err != nil || !bytes.Equal(msg, secret) || from != alice.public() {
		t.Fatalf("bob opens %q from %s, %v; want alice's", msg, from.Fingerprint(), err)
	}
	if err := bob.Ack(got.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ack taken", func() bool { return r2.Stats().MailAcked == 1 })
	if left, err := mail.Fetch(ctx, bob.public(), time.Now(), MailPerFetch); err != nil || len(left) != 0 {
		t.Errorf("after the ack the relay holds %d mails for bob, %v", len(left), err)
	}
	select {
	case m := <-bob.mails:
		t.Errorf("bob was handed mail %d again after a single fetch", m.ID)
	default:
	}
	// The relay never held the plaintext: not on the wire, not on disk.
	for _, tap := range []*tapConn{r1.tap, r2.tap} {
		if tap.contains(secret) {
			t.Error("the plaintext crossed the relay's socket")
		}
	}
	if fileContains(t, dir, secret) {
		t.Error("the plaintext is in the relay's data dir")
	}
}

func TestMailOnlineRecipientGetsItAtOnce(t *testing.T) {
	mail := openMailboxes(t, t.TempDir())
	defer mail.Close()
	r := startRelay(t, Config{Mailboxes: mail})
	alice, bob := startClient(t, r, newKey(t)), startClient(t, r, newKey(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if status, err := alice.PutMail(ctx, bob.public(), []byte("x")); err != nil || status != wire.MailStored {
		t.Fatalf("PutMail: status %d, %v", status, err)
	}
	if m := receive(t, bob.mails, "mail"); !bytes.Equal(m.Blob, []byte("x")) {
		t.Fatalf("bob got %q", m.Blob)
	}
}

// TestClientFetchesAtMostTwiceARefresh: a client fetches its mail after
// registering, but one that registers again and again within half a
// refresh (as a chat with several relays does, to learn its relay still
// answers) does not make the relay read its mailbox each time; a fetch
// asked for still goes.
func TestClientFetchesAtMostTwiceARefresh(t *testing.T) {
	mail := openMailboxes(t, t.TempDir())
	defer mail.Close()
	r := startRelay(t, Config{Mailboxes: mail})
	alice, bobKey := startClient(t, r, newKey(t)), newKey(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if status, err := alice.PutMail(ctx, bobKey.Public(), []byte("x")); err != nil || status != wire.MailStored {
		t.Fatalf("PutMail: status %d, %v", status, err)
	}
	bob := startClient(t, r, bobKey) // registers, and fetches: the mail comes
	receive(t, bob.mails, "mail")
	for range 3 {
		if _, err := bob.Register(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := bob.Fetch(); err != nil { // not acked: the relay sends it again
		t.Fatal(err)
	}
	// The relay does a client's mail requests in order: once this put is
	// answered, every fetch bob sent before it is done.
	if _, err := bob.PutMail(ctx, newKey(t).Public(), []byte("y")); err != nil {
		t.Fatal(err)
	}
	if sent := r.Stats().MailSent; sent != 2 {
		t.Errorf("the relay sent bob's mail %d times, want 2: at his first registration and when he asked", sent)
	}
}

func TestMailboxBounds(t *testing.T) {
	mail := openMailboxes(t, t.TempDir()) // 4 a recipient, a day
	defer mail.Close()
	ctx := context.Background()
	bob := newKey(t).Public()
	now := time.Unix(1_800_000_000, 0)
	for i := range 5 {
		_, status, err := mail.Put(ctx, bob, []byte{byte(i)}, now)
		want := uint8(wire.MailStored)
		if i == 4 {
			want = wire.MailBoxFull
		}
		if err != nil || status != want {
			t.Fatalf("put %d: status %d, %v; want %d", i, status, err, want)
		}
	}
	got, err := mail.Fetch(ctx, bob, now, MailPerFetch)
	if err != nil || len(got) != 4 || got[0].Blob[0] != 0 {
		t.Fatalf("fetch: %d mails, %v; want the 4 stored, oldest first", len(got), err)
	}
	if ok, err := mail.Ack(ctx, newKey(t).Public(), got[0].ID); ok || err != nil {
		t.Errorf("another key acknowledged bob's mail: %v, %v", ok, err)
	}
	later := now.Add(25 * time.Hour)
	if got, _ := mail.Fetch(ctx, bob, later, MailPerFetch); len(got) != 0 {
		t.Errorf("a day later %d mails are still fetched, want none", len(got))
	}
	if n, err := mail.Expire(ctx, later); n != 4 || err != nil {
		t.Errorf("Expire removed %d, %v; want 4", n, err)
	}
}

func TestMailboxTakesAResentPutOnce(t *testing.T) {
	mail := openMailboxes(t, t.TempDir())
	defer mail.Close()
	ctx := context.Background()
	bob, carol := newKey(t).Public(), newKey(t).Public()
	now := time.Unix(1_800_000_000, 0)
	put := func(to [32]byte, blob string) (uint64, uint8) {
		t.Helper()
		id, status, err := mail.Put(ctx, to, []byte(blob), now)
		if err != nil {
			t.Fatalf("Put %q: %v", blob, err)
		}
		return id, status
	}
	first, _ := put(bob, "one")
	if again, status := put(bob, "one"); status != wire.MailStored || again != first {
		t.Errorf("the resent put: id %d, status %d; want the first's %d, stored", again, status, first)
	}
	if _, status := put(carol, "one"); status != wire.MailStored {
		t.Errorf("the same bytes for carol: status %d, want stored", status)
	}
	if got, err := mail.Fetch(ctx, bob, now, MailPerFetch); err != nil || len(got) != 1 {
		t.Errorf("bob is handed %d mails, %v; want the one put twice, once", len(got), err)
	}
	if n, err := mail.Len(ctx); err != nil || n != 2 {
		t.Errorf("%d mails held, %v; want bob's and carol's", n, err)
	}
}

func TestMailFullAnswersTheSender(t *testing.T) {
	mail := openMailboxes(t, t.TempDir())
	defer mail.Close()
	r := startRelay(t, Config{Mailboxes: mail})
	alice := startClient(t, r, newKey(t))
	bob := newKey(t).Public()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Distinct blobs, as sealed ones always are: the same bytes again are
	// a resent put, stored once.
	for i := range byte(4) {
		if status, err := alice.PutMail(ctx, bob, []byte{i}); err != nil || status != wire.MailStored {
			t.Fatalf("PutMail %d: status %d, %v", i, status, err)
		}
	}
	if status, err := alice.PutMail(ctx, bob, []byte{4}); err != nil || status != wire.MailBoxFull {
		t.Fatalf("PutMail to a full mailbox: status %d, %v; want full", status, err)
	}
	// Counted by the time alice has her answer; each copy of the put
	// that her client resent while it waited is refused and counted too.
	if got := r.Stats().Drops[DropMailboxFull]; got == 0 {
		t.Error("the put to a full mailbox was not counted")
	}
	if n, err := mail.Len(ctx); err != nil || n != 4 {
		t.Errorf("%d mails held, %v; want the 4 put, each once", n, err)
	}
}

func TestSealedMailOpensOnlyForItsRecipient(t *testing.T) {
	alice, bob, eve := newKey(t), newKey(t), newKey(t)
	blob, err := SealMail(alice, bob.Public(), []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) != 2+MailSealOverhead {
		t.Errorf("sealed %d bytes into %d, want %d more", 2, len(blob), MailSealOverhead)
	}
	if _, _, err := OpenMail(eve, blob); !errors.Is(err, ErrMailOpen) {
		t.Errorf("eve opened bob's mail: %v", err)
	}
	blob[len(blob)-1] ^= 1
	if _, _, err := OpenMail(bob, blob); !errors.Is(err, ErrMailOpen) {
		t.Errorf("a damaged mail opened: %v", err)
	}
	if _, err := SealMail(alice, bob.Public(), make([]byte, MaxMailMessage+1)); err == nil {
		t.Error("sealed a mail too big for a put")
	}
	big, err := SealMail(alice, bob.Public(), make([]byte, MaxMailMessage))
	if err != nil || len(big) != wire.MaxMailBlob {
		t.Errorf("the largest mail seals to %d bytes, %v; want wire.MaxMailBlob %d", len(big), err, wire.MaxMailBlob)
	}
}

// countingMail counts the store's expiry rounds.
type countingMail struct {
	*Mailboxes
	expired atomic.Int32
}

func (c *countingMail) Expire(ctx context.Context, now time.Time) (int64, error) {
	c.expired.Add(1)
	return c.Mailboxes.Expire(ctx, now)
}

// A relay without mailboxes lives through its expiry rounds (it called
// the missing store's Expire and crashed a minute after its start): once a
// relay with a store has seen three rounds, the one without still answers.
func TestNoMailboxesOutlivesExpiry(t *testing.T) {
	was := expireEvery
	expireEvery = time.Millisecond
	t.Cleanup(func() { expireEvery = was })
	bare := startRelay(t, Config{})
	mail := &countingMail{Mailboxes: openMailboxes(t, t.TempDir())}
	defer mail.Close()
	stop := startRelay(t, Config{Mailboxes: mail}).stop
	defer stop() // before the store closes
	eventually(t, "three expiry rounds", func() bool { return mail.expired.Load() >= 3 })
	alice := startClient(t, bare, newKey(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := alice.Register(ctx); err != nil {
		t.Fatalf("the relay without mailboxes stopped answering: %v", err)
	}
}
