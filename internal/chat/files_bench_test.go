package chat_test

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/testenv"
	"github.com/udpchat/udpchat/internal/udp"
)

// loopbackNode is a node on the transport over a real UDP socket on
// 127.0.0.1 (unencrypted), taking files as files says.
func loopbackNode(b *testing.B, name string, files chat.FileConfig) *chat.Node {
	conn, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return fileNodeOn(b, conn, name, files)
}

// BenchmarkChatLatencyDuringFile measures how long a chat message takes
// from Send to the peer's Message event on loopback, alone ("idle") and
// while a 256 MiB file goes the same way ("file"): the message waits
// behind at most the receiver's window of blocks (transfer.DefaultWindow),
// not behind the file. It reports the medians of both, in ms.
func BenchmarkChatLatencyDuringFile(b *testing.B) {
	a := loopbackNode(b, "alice", chat.FileConfig{})
	bob := loopbackNode(b, "bob", chat.FileConfig{Dir: b.TempDir(), AutoAccept: true})
	a.ConnectKept(bob.LocalAddr())
	joined := make(chan struct{})
	go func() {
		var once sync.Once
		for ev := range a.Events() {
			if _, ok := ev.(chat.Joined); ok {
				once.Do(func() { close(joined) })
			}
		}
	}()
	msgs := make(chan time.Time, 16)
	var fileDone = make(chan struct{})
	go func() {
		for ev := range bob.Events() {
			switch ev.(type) {
			case chat.Message:
				msgs <- time.Now()
			case chat.FileDone, chat.FileFailed:
				close(fileDone)
			}
		}
	}()
	latency := func() time.Duration {
		start := time.Now()
		if _, err := a.Send("ping"); err != nil {
			b.Fatal(err)
		}
		return (<-msgs).Sub(start)
	}
	latency()
	<-joined
	b.ResetTimer()
	var idle, busy []time.Duration
	for b.Loop() {
		idle = append(idle, latency())
	}
	b.StopTimer()
	big, _ := randomFile(b, 256<<20)
	if _, err := a.SendFile(bob.LocalAddr(), big); err != nil {
		b.Fatal(err)
	}
	for range 50 {
		select {
		case <-fileDone:
		default:
			busy = append(busy, latency())
			time.Sleep(10 * time.Millisecond) // spread over the transfer
			continue
		}
		break
	}
	b.ReportMetric(median(idle), "idle-ms")
	b.ReportMetric(median(busy), "file-ms")
	b.ReportMetric(float64(len(busy)), "samples-during-file")
}

func median(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[len(ds)/2]) / float64(time.Millisecond)
}

// BenchmarkFileLoopback moves a 64 MiB file between two nodes of this
// process over real UDP sockets on 127.0.0.1 (the transport, unencrypted):
// the engine, the receiver's checks and writes, and the transport, without
// the processes and the handshake that BenchmarkSendFile (cmd/udpchat)
// includes (the hashing of the offer is in). For profiles of the path, and
// its CPU cost.
func BenchmarkFileLoopback(b *testing.B) {
	const size = 64 << 20
	a := loopbackNode(b, "alice", chat.FileConfig{})
	dir := b.TempDir()
	bob := loopbackNode(b, "bob", chat.FileConfig{Dir: dir, AutoAccept: true})
	a.ConnectKept(bob.LocalAddr())
	joined := make(chan struct{})
	go func() {
		var once sync.Once
		for ev := range a.Events() {
			if _, ok := ev.(chat.Joined); ok {
				once.Do(func() { close(joined) })
			}
		}
	}()
	ended := make(chan chat.Event, 1)
	go func() {
		for ev := range bob.Events() {
			switch ev.(type) {
			case chat.FileDone, chat.FileFailed:
				ended <- ev
			}
		}
	}()
	if _, err := a.Send("hi"); err != nil {
		b.Fatal(err)
	}
	<-joined
	path, _ := randomFile(b, size)
	b.SetBytes(size)
	cpu0 := testenv.CPUTime()
	for b.Loop() {
		if _, err := a.SendFile(bob.LocalAddr(), path); err != nil {
			b.Fatal(err)
		}
		if ev, ok := (<-ended).(chat.FileFailed); ok {
			b.Fatal(ev.Err)
		}
		b.StopTimer()
		os.Remove(filepath.Join(dir, "photo.jpg")) // else the next is there already
		b.StartTimer()
	}
	// Both nodes' CPU, per MiB moved: on a busy machine the wall time is
	// the load's as much as ours.
	b.ReportMetric(float64(testenv.CPUTime()-cpu0)/float64(time.Millisecond)/float64(b.N)/(size>>20), "cpu-ms/MiB")
}
