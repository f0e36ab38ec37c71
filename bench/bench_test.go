package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/udp/udptest"
)

// TestMain removes the udpchat executable the e2e scenarios built, if they
// did.
func TestMain(m *testing.M) {
	code := m.Run()
	udpchatExe.remove()
	os.Exit(code)
}

// TestSmoke runs every system in every scenario it applies to for a tiny
// count: on clean loopback everything sent must arrive, and the JSON lines
// must carry the fields the issue asks for.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("opens sockets and runs every system")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, sc := range scenarios {
		for _, sys := range systems {
			if !sc.applies(sys) {
				continue
			}
			t.Run(sc.name+"/"+sys.name, func(t *testing.T) {
				cfg := config{params: smokeParams, json: true, scenarios: []*scenario{sc}, systems: []*system{sys}}
				var out bytes.Buffer
				results := run(ctx, &cfg, &out, testWriter{t})
				if len(results) != 1 {
					t.Fatalf("got %d results, want 1", len(results))
				}
				r := results[0]
				if len(r.Errors) > 0 {
					t.Fatalf("failed: %s", strings.Join(r.Errors, "; "))
				}
				if r.Rounds != 1 {
					t.Fatalf("rounds %d, want 1", r.Rounds)
				}
				if *r.Sent == 0 {
					t.Errorf("sent nothing")
				}
				if sc.lossless && *r.Delivered != *r.Sent {
					t.Errorf("delivered %d of %d on clean loopback", *r.Delivered, *r.Sent)
				}
				if r.Misordered != nil && *r.Misordered != 0 {
					t.Errorf("%d messages out of order or duplicated", *r.Misordered)
				}
				checkJSON(t, sc, out.Bytes(), 1)
			})
		}
	}
}

// checkJSON parses the JSON lines and checks each has the required fields.
func checkJSON(t *testing.T, sc *scenario, out []byte, want int) {
	t.Helper()
	required := []string{"scenario", "system", "cpu_us_per_msg", "sent", "delivered"}
	if sc.figure == "msgs/s" {
		required = append(required, "msgs_per_s")
	} else {
		required = append(required, "p50_us", "p99_us")
	}
	if sc.name == "rtt" || sc.name == "paced" || sc.name == "big256k" || sc.name == "handshake" {
		required = append(required, "p50_us", "p99_us", "msgs_per_s")
	}
	n := 0
	sc2 := bufio.NewScanner(bytes.NewReader(out))
	for sc2.Scan() {
		n++
		var m map[string]any
		if err := json.Unmarshal(sc2.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", n, err, sc2.Bytes())
		}
		for _, k := range required {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q: %s", n, k, sc2.Bytes())
			}
		}
		if m["scenario"] != sc.name {
			t.Errorf("line %d: scenario %v, want %s", n, m["scenario"], sc.name)
		}
		for _, k := range []string{"msgs_per_s", "p50_us", "p99_us", "cpu_us_per_msg", "sent", "delivered"} {
			if v, ok := m[k]; ok {
				if _, isNum := v.(float64); !isNum {
					t.Errorf("line %d: %s is %T, want a number", n, k, v)
				}
			}
		}
	}
	if n != want {
		t.Errorf("%d JSON lines, want %d:\n%s", n, want, out)
	}
}

// TestLossDropperMatchesImpair: the wrapper kcp-go and quic-go write
// through drops the same datagrams, by write index, as udptest.Impair does for
// udpchat.
func TestLossDropperMatchesImpair(t *testing.T) {
	for _, loss := range []float64{0.1, 0.3} {
		for seed := range uint64(3) {
			rec := &recordConn{}
			imp := udptest.Impair(rec, udptest.Impairment{Loss: loss, Seed: seed})
			d := newLossDropper(loss, seed)
			to := netip.MustParseAddrPort("127.0.0.1:9")
			const n = 2000
			var dropped []bool
			for i := range n {
				imp.WriteTo([]byte{byte(i), byte(i >> 8)}, to)
				dropped = append(dropped, d.drop())
			}
			imp.Close()
			j := 0
			for i := range n {
				passed := j < len(rec.got) && rec.got[j] == uint16(i)
				if passed {
					j++
				}
				if passed == dropped[i] {
					t.Fatalf("loss %v seed %d: datagram %d: udptest.Impair passed=%v, lossDropper dropped=%v", loss, seed, i, passed, dropped[i])
				}
			}
			if got := float64(d.dropped.Load()) / n; got < loss-0.05 || got > loss+0.05 {
				t.Errorf("loss %v: dropped %.3f", loss, got)
			}
		}
	}
}

type recordConn struct {
	mu  sync.Mutex
	got []uint16
}

func (c *recordConn) ReadFrom([]byte) (int, netip.AddrPort, error) { select {} }
func (c *recordConn) WriteTo(b []byte, _ netip.AddrPort) (int, error) {
	c.mu.Lock()
	c.got = append(c.got, uint16(b[0])|uint16(b[1])<<8)
	c.mu.Unlock()
	return len(b), nil
}
func (c *recordConn) LocalAddr() netip.AddrPort { return netip.AddrPort{} }
func (c *recordConn) Close() error              { return nil }

func TestPercentiles(t *testing.T) {
	var xs []time.Duration
	for i := 100; i >= 1; i-- {
		xs = append(xs, time.Duration(i))
	}
	p50, p99, ok := percentiles(xs)
	if !ok || p50 != 50 || p99 != 99 {
		t.Errorf("percentiles(1..100) = %v, %v, %v; want 50, 99, true", p50, p99, ok)
	}
	if _, _, ok := percentiles(nil); ok {
		t.Errorf("percentiles(nil) ok")
	}
}

func TestFmtNum(t *testing.T) {
	for x, want := range map[float64]string{1.234: "1.23", 12.34: "12.3", 123.4: "123", 12345: "12,345", 1234567: "1,234,567"} {
		if got := fmtNum(x); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", x, got, want)
		}
	}
}

// TestFraming: frames round-trip, including an empty one and the largest.
func TestFraming(t *testing.T) {
	msgs := [][]byte{{}, []byte("hello"), bytes.Repeat([]byte{7}, maxFrame)}
	var b []byte
	for _, m := range msgs {
		b = appendFrame(b, m)
	}
	var got [][]byte
	if err := readFrames(bytes.NewReader(b), func(m []byte) { got = append(got, bytes.Clone(m)) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("got %d frames, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Errorf("frame %d differs", i)
		}
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

var _ io.Writer = testWriter{}

func TestWithPacedRates(t *testing.T) {
	got, err := withPacedRates(scenarios, "1000, 50000")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range got {
		names = append(names, sc.name)
	}
	if want := "throughput rtt paced-1000 paced-50000 loss10"; !strings.HasPrefix(strings.Join(names, " "), want) {
		t.Errorf("scenarios %v, want them to start %q", names, want)
	}
	for _, bad := range []string{"fast", "0", "1000,", "-5"} {
		if _, err := withPacedRates(scenarios, bad); err == nil {
			t.Errorf("--paced-rate %q accepted", bad)
		}
	}
}
