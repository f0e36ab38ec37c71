package integration_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf16"

	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/secure/securetest"
	"github.com/udpchat/udpchat/internal/udp"
	"github.com/udpchat/udpchat/internal/udp/udptest"
	"github.com/udpchat/udpchat/internal/wire"
)

// tap is a udp.Conn between the transport and the secure conn that records
// the plaintext packets the transport writes, so a test knows what must not
// appear on the wire.
type tap struct {
	udp.Conn
	mu      sync.Mutex
	packets [][]byte
}

func (t *tap) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	t.mu.Lock()
	t.packets = append(t.packets, bytes.Clone(b))
	t.mu.Unlock()
	return t.Conn.WriteTo(b, addr)
}

// encodings are the forms in which a secret could leak.
func encodings(s []byte) [][]byte {
	u16 := utf16.Encode([]rune(string(s)))
	le := make([]byte, 2*len(u16))
	for i, u := range u16 {
		binary.LittleEndian.PutUint16(le[2*i:], u)
	}
	return [][]byte{
		s,
		[]byte(hex.EncodeToString(s)),
		[]byte(strings.ToUpper(hex.EncodeToString(s))),
		[]byte(base64.StdEncoding.EncodeToString(s)),
		[]byte(base64.RawURLEncoding.EncodeToString(s)),
		le,
	}
}

// windowSet holds every w-byte window of the secrets; a datagram leaks if
// any of its w-byte windows is in the set. Windows, not whole strings,
// because the transport cuts a long text across datagrams.
type windowSet struct {
	w   int
	set map[string]string // window → what it came from
}

func (s *windowSet) add(label string, b []byte) {
	for i := 0; i+s.w <= len(b); i++ {
		s.set[string(b[i:i+s.w])] = label
	}
}

func (s *windowSet) find(b []byte) (string, bool) {
	for i := 0; i+s.w <= len(b); i++ {
		if l, ok := s.set[string(b[i:i+s.w])]; ok {
			return l, true
		}
	}
	return "", false
}

// TestCapture: while two peers chat distinctive texts over the transport and
// secure conns, every datagram on the wire is recorded; no text, name or
// message ID appears in any of them in any encoding, and neither do the
// transport's headers and epochs.
func TestCapture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := udptest.NewMemNetwork()
		rec := &securetest.Recorder{}
		mild := udptest.Impairment{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Observe: rec.Observe}
		mild.Seed = 1
		ia := udptest.Impair(securetest.Listen(t, n, addrA), mild)
		mild.Seed = 2
		ib := udptest.Impair(securetest.Listen(t, n, addrB), mild)
		tapA := &tap{Conn: securetest.NewConn(t, secure.NewConn, ia, secure.Config{Static: securetest.MustKey(t)})}
		tapB := &tap{Conn: securetest.NewConn(t, secure.NewConn, ib, secure.Config{Static: securetest.MustKey(t)})}
		a := newChatterOn(t, tapA)
		b := newChatterOn(t, tapB)

		texts := []string{
			"the quick brown fox jumps over the lazy dog",
			"Grüße aus Köln — ünïcødé ✓ and emoji 🦊🔐",
			"password: hunter2-correct-horse-battery-staple",
			"meet me at the old mill at midnight, bring the ledger",
			strings.Repeat("a long paste with a recognisable refrain; ", 400),
		}
		names := map[netip.AddrPort]string{addrA: "alice-the-tester", addrB: "bob-the-reviewer"}
		secrets := &windowSet{w: 12, set: map[string]string{}}
		var refsA, refsB []uint64
		for i := range 60 {
			for _, c := range []*chatter{a, b} {
				m := wire.ChatMessage{Kind: wire.ChatText, Name: names[c.addr], Text: fmt.Sprintf("%s #%d", texts[i%len(texts)], i)}
				for j := range m.ID {
					m.ID[j] = byte(rand.Uint32())
				}
				payload, err := wire.AppendChat(nil, m)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range encodings([]byte(m.Text)) {
					secrets.add("text "+m.Text[:min(20, len(m.Text))], e)
				}
				for _, e := range encodings([]byte(m.Name)) {
					secrets.add("name", e)
				}
				secrets.add("message ID", m.ID[:])
				to := addrB
				if c == b {
					to = addrA
				}
				ref, err := c.ep.Send(to, payload)
				if err != nil {
					t.Fatal(err)
				}
				if c == a {
					refsA = append(refsA, ref)
				} else {
					refsB = append(refsB, ref)
				}
			}
		}
		a.rec.WaitFor(t, "A's deliveries", time.Hour, func() bool { return a.rec.NumDelivered() >= len(refsA) })
		b.rec.WaitFor(t, "B's deliveries", time.Hour, func() bool { return b.rec.NumDelivered() >= len(refsB) })
		if a.rec.Count(addrB) != 60 || b.rec.Count(addrA) != 60 {
			t.Fatalf("received %d and %d messages, want 60 each", a.rec.Count(addrB), b.rec.Count(addrA))
		}

		// The transport's headers: every epoch, and every whole header.
		headers := &windowSet{w: 8, set: map[string]string{}}
		for _, tp := range []*tap{tapA, tapB} {
			tp.mu.Lock()
			for _, p := range tp.packets {
				h, _, err := wire.ParseHeader(p)
				if err != nil {
					t.Fatalf("the transport wrote a bad packet: %v", err)
				}
				var e [8]byte
				binary.BigEndian.PutUint64(e[:], h.SrcEpoch)
				headers.set[string(e[:])] = "source epoch"
				if h.DstEpoch != 0 {
					binary.BigEndian.PutUint64(e[:], h.DstEpoch)
					headers.set[string(e[:])] = "destination epoch"
				}
				secrets.set[string(p[:12])] = "transport header"
			}
			tp.mu.Unlock()
		}

		// 120 messages, a long paste among them, and their ACKs: over a
		// hundred datagrams even once packets have grown to 16 KiB (path MTU
		// discovery packs a dozen chunks in one).
		grams := rec.All()
		if len(grams) < 100 {
			t.Fatalf("only %d datagrams captured", len(grams))
		}
		for i, d := range grams {
			if what, ok := secrets.find(d.B); ok {
				t.Fatalf("datagram %d (type 0x%02x, %d bytes) shows a %s", i, d.B[1], len(d.B), what)
			}
			if what, ok := headers.find(d.B); ok {
				t.Fatalf("datagram %d (type 0x%02x) shows a %s", i, d.B[1], what)
			}
			if len(d.B) > wire.MaxPathDatagram || d.B[1] == wire.TypeTransport {
				t.Fatalf("datagram %d: %d bytes, type 0x%02x", i, len(d.B), d.B[1])
			}
		}
		t.Logf("%d datagrams checked against %d secret windows and %d epochs", len(grams), len(secrets.set), len(headers.set))
		a.close()
		b.close()
	})
}

// newChatterOn starts a transport on an already wrapped secure conn.
func newChatterOn(t testing.TB, tp *tap) *chatter {
	t.Helper()
	c := newChatterConn(t, tp, tp.Conn.(*secure.Conn))
	return c
}
