package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The numbers these report are in BENCHMARKS.md; run them with
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/store/

func benchOpen(b *testing.B, dir, sync string) *MessageDB {
	b.Helper()
	s, err := open(context.Background(), dir, options{sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func seqID(i int) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], 0x5EED)
	binary.BigEndian.PutUint64(id[8:], uint64(i))
	return id
}

// chatText makes messages of about 100 bytes of words from a vocabulary
// used the way language is (Zipf: a few words everywhere, most rare), so
// the search index is as large and as selective as a real one.
type chatText struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newChatText() *chatText {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 20000)
	for i := range vocab {
		w := make([]byte, 2+rng.IntN(8))
		for j := range w {
			w[j] = 'a' + byte(rng.IntN(26))
		}
		vocab[i] = string(w)
	}
	return &chatText{rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1)), vocab: vocab}
}

func (c *chatText) next() string {
	var b strings.Builder
	for b.Len() < 95 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.vocab[c.zipf.Uint64()])
	}
	return b.String()
}

// fill stores n messages, half sent and delivered, half received, with
// two peers, a second apart, in transactions of 1,000.
func fill(b *testing.B, s *MessageDB, n int) {
	b.Helper()
	ctx := context.Background()
	text := newChatText()
	for start := 0; start < n; start += 1000 {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			for i := start; i < min(start+1000, n); i++ {
				peer, stmt := "127.0.0.1:9002", insertIncoming
				if i%3 == 0 {
					peer = "[2001:db8::1]:7475"
				}
				if i%2 == 0 {
					stmt = insertOutgoing
				}
				at := t0.Add(time.Duration(i) * time.Second).UnixNano()
				id := seqID(i)
				if _, err := tx.Exec(stmt, peer, id[:], 2, "somebody", text.next(), at); err != nil {
					return err
				}
				if i%2 == 0 {
					if _, err := tx.Exec(`UPDATE messages SET state = 1, delivered_at = ? WHERE peer = ? AND direction = 0 AND id = ?`,
						at+int64(40*time.Millisecond), peer, id[:]); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func reportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAddOutgoingDelivered is the sender's cost per message: the
// outbox write before the first datagram and the update when it is
// acknowledged, two commits.
func BenchmarkAddOutgoingDelivered(b *testing.B) {
	benchPerMessage(b, func(b *testing.B, ctx context.Context, s *MessageDB, m Message) {
		if err := s.AddOutgoing(ctx, m); err != nil {
			b.Fatal(err)
		}
		if err := s.MarkDelivered(ctx, m.Peer, m.ID); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkAddIncoming is the receiver's cost per message, paid before it
// acknowledges: one commit.
func BenchmarkAddIncoming(b *testing.B) {
	benchPerMessage(b, func(b *testing.B, ctx context.Context, s *MessageDB, m Message) {
		if isNew, err := s.AddIncoming(ctx, m); err != nil || !isNew {
			b.Fatal(isNew, err)
		}
	})
}

// benchPerMessage times op on one message after another, each with an ID of
// its own, in a fresh store under each synchronous setting, and reports
// messages a second.
func benchPerMessage(b *testing.B, op func(b *testing.B, ctx context.Context, s *MessageDB, m Message)) {
	for _, sync := range []string{syncNormal, syncFull} {
		b.Run("sync="+sync, func(b *testing.B) {
			ctx := context.Background()
			s := benchOpen(b, b.TempDir(), sync)
			m := testMessage("127.0.0.1:9002", [16]byte{}, newChatText().next())
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				m.ID = seqID(n)
				n++
				op(b, ctx, s, m)
			}
			reportRate(b, n)
		})
	}
}

// BenchmarkHistory100k reads a history of 100,000 messages the ways the UI
// and `udpchat history` do.
func BenchmarkHistory100k(b *testing.B) {
	const n = 100_000
	s := benchOpen(b, b.TempDir(), defaultSync)
	fill(b, s, n)
	vocab := newChatText().vocab
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"recent50", Query{Limit: 50}},
		{"recent1000", Query{}},
		{"peer50", Query{Peers: []string{"[2001:db8::1]:7475"}, Limit: 50}},
		{"since", Query{Since: t0.Add((n - 500) * time.Second)}},
		{"search=common", Query{Search: vocab[2]}},        // in most messages: the newest 1,000
		{"search=rare", Query{Search: vocab[15000]}},      // in a handful
		{"search=prefix", Query{Search: vocab[9000][:2]}}, // a two-letter prefix
		{"search=two-words", Query{Search: vocab[3] + " " + vocab[40]}},
		{"search=absent", Query{Search: "zzzzzzzzzzzzz"}},
		{"search=punctuation", Query{Search: "?!"}}, // the LIKE scan
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			var found int
			for b.Loop() {
				ms, err := s.History(ctx, bc.q)
				if err != nil {
					b.Fatal(err)
				}
				found = len(ms)
			}
			b.ReportMetric(float64(found), "msgs/op")
		})
	}
}

// BenchmarkDiskSize100k reports the size on disk of 100,000 messages of
// about 100 bytes of text, after Close (which checkpoints the WAL).
func BenchmarkDiskSize100k(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		dir := b.TempDir()
		s := benchOpen(b, dir, defaultSync)
		fill(b, s, n)
		sizes := tableSizes(b, s)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		var total int64
		for _, name := range []string{DBName, DBName + "-wal", DBName + "-shm"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err == nil {
				total += fi.Size()
			}
		}
		b.ReportMetric(float64(total), "bytes")
		b.ReportMetric(float64(total)/n, "bytes/msg")
		for name, size := range sizes {
			b.ReportMetric(float64(size)/n, name+"-bytes/msg")
		}
	}
}

// tableSizes is the bytes each part of the schema takes (messages itself,
// the search index), if the driver has the dbstat table.
func tableSizes(b *testing.B, s *MessageDB) map[string]int64 {
	rows, err := s.db.Query(`SELECT CASE WHEN name LIKE 'messages_fts%' THEN 'fts' WHEN name = 'messages' THEN 'table' ELSE 'indexes' END,
		sum(pgsize) FROM dbstat GROUP BY 1`)
	if err != nil {
		b.Logf("no dbstat: %v", err)
		return nil
	}
	defer rows.Close()
	sizes := map[string]int64{}
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			b.Fatal(err)
		}
		sizes[name] = size
	}
	return sizes
}

// BenchmarkBurst is what group commit costs a message on each side, in
// bursts of 256, in a store that grows as it runs (sync NORMAL, so that
// the figure is the work, not the disk's fsync): the receiver stores a
// burst and marks it shown; the sender writes a burst to its outbox and
// marks it delivered. IDs grow, as the chat makes them.
func BenchmarkBurst(b *testing.B) {
	const size = 256
	person := [32]byte{9}
	burst := func(text *chatText, n int) []Message {
		ms := make([]Message, size)
		for i := range ms {
			ms[i] = testMessage("127.0.0.1:9002", seqID(n+i), text.next())
			ms[i].Person = person
		}
		return ms
	}
	b.Run("side=receiver", func(b *testing.B) {
		ctx := context.Background()
		s := benchOpen(b, b.TempDir(), syncNormal)
		text := newChatText()
		n := 0
		for b.Loop() {
			ms := burst(text, n)
			n += size
			if _, err := s.CommitBurst(ctx, Burst{Incoming: ms}); err != nil {
				b.Fatal(err)
			}
			keys := make([]Key, len(ms))
			for i, m := range ms {
				keys[i] = Key{Peer: m.Peer, ID: m.ID}
			}
			if err := s.MarkShown(ctx, keys); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, n)
	})
	b.Run("side=sender", func(b *testing.B) {
		ctx := context.Background()
		s := benchOpen(b, b.TempDir(), syncNormal)
		text := newChatText()
		n := 0
		for b.Loop() {
			ms := burst(text, n)
			n += size
			if _, err := s.CommitBurst(ctx, Burst{Outgoing: ms}); err != nil {
				b.Fatal(err)
			}
			ds := make([]Delivery, len(ms))
			for i, m := range ms {
				ds[i] = Delivery{Peer: m.Peer, Person: m.Person, ID: m.ID}
			}
			if _, err := s.CommitBurst(ctx, Burst{Delivered: ds}); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b, n)
	})
}
