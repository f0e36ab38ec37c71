package files

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
)

// smallShift makes test files of many blocks without many bytes.
const smallShift = wire.MinFileBlockShift

// writeFile writes size seeded random bytes to dir/name.
func writeFile(t testing.TB, dir, name string, size int, seed uint64) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	rng.Read(data)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func openSource(t testing.TB, path string, shift uint8) *Source {
	t.Helper()
	s, err := OpenSource(path, shift)
	if err != nil {
		t.Fatalf("OpenSource(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// link is the path between a sender and a receiver in a test: each block
// goes through its wire encoding, and is lost, duplicated or reordered at
// the rates given, by a seeded generator.
type link struct {
	rng             *rand.Rand
	loss, dup       float64
	reorder         bool
	served          map[uint64]int // times each block was read from the sender
	maxRangesBlocks uint64
}

func newLink(seed uint64, loss, dup float64, reorder bool) *link {
	return &link{rng: rand.New(rand.NewPCG(seed, 1)), loss: loss, dup: dup, reorder: reorder,
		served: make(map[uint64]int), maxRangesBlocks: 64}
}

func (l *link) fetched() int {
	n := 0
	for _, c := range l.served {
		n += c
	}
	return n
}

// round asks for what the receiver lacks and delivers what comes back.
func (l *link) round(t testing.TB, src *Source, r *Receiver) error {
	t.Helper()
	req, err := wire.AppendFileRequest(nil, wire.FileRequestMessage{ID: r.Offer().ID, Ranges: r.Missing(0, l.maxRangesBlocks)})
	if err != nil {
		t.Fatalf("AppendFileRequest: %v", err)
	}
	parsed, err := wire.ParseFileRequest(req)
	if err != nil {
		t.Fatalf("ParseFileRequest: %v", err)
	}
	var msgs [][]byte
	for _, rg := range parsed.Ranges {
		for i := rg.First; i < rg.First+rg.Count; i++ {
			l.served[i]++
			k, err := src.ReadBlock(parsed.ID, i)
			if err != nil {
				return err
			}
			if l.rng.Float64() < l.loss {
				continue
			}
			b, err := wire.AppendFileBlock(nil, k)
			if err != nil {
				t.Fatalf("AppendFileBlock: %v", err)
			}
			msgs = append(msgs, b)
			if l.rng.Float64() < l.dup {
				msgs = append(msgs, b)
			}
		}
	}
	if l.reorder {
		l.rng.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	}
	for _, b := range msgs {
		k, err := wire.ParseFileBlock(b)
		if err != nil {
			t.Fatalf("ParseFileBlock: %v", err)
		}
		if err := r.Deliver(k); err != nil {
			return err
		}
	}
	return nil
}

// run drives the transfer to its end: at most 1000 rounds.
func (l *link) run(t testing.TB, src *Source, r *Receiver) (string, error) {
	t.Helper()
	for range 1000 {
		if r.Complete() {
			p, err := r.Finish()
			if errors.Is(err, ErrRefetch) {
				continue
			}
			return p, err
		}
		if err := l.round(t, src, r); err != nil {
			return "", err
		}
	}
	t.Fatalf("the transfer did not end in 1000 rounds: %d of %d blocks", r.Have(), r.Blocks())
	return "", nil
}

func receive(t testing.TB, dir string, offer wire.FileOfferMessage) *Receiver {
	t.Helper()
	r, err := Receive(dir, offer, Limits{})
	if err != nil {
		t.Fatalf("Receive(%+v): %v", offer, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// checkReceived checks the file at p holds want, inside dir, and that no
// file of the transfer is left beside it.
func checkReceived(t testing.TB, dir, p string, want []byte) {
	t.Helper()
	if filepath.Dir(p) != dir {
		t.Errorf("received into %s, outside the downloads dir %s", p, dir)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes (%v), not the %d sent", p, len(got), err, len(want))
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".udpchat-*"))
	if len(left) > 0 {
		t.Errorf("files of the transfer left in the downloads dir: %v", left)
	}
}

func TestRoundTripOverALossyLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		shift uint8
	}{
		{"empty", 0, smallShift},
		{"one byte", 1, smallShift},
		{"one whole block", 1 << smallShift, smallShift},
		{"a block and a byte", 1<<smallShift + 1, smallShift},
		{"many small blocks", 300<<10 + 17, smallShift},
		{"default blocks", 1<<20 + 3, wire.DefaultFileBlockShift},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := t.TempDir(), t.TempDir()
			path, data := writeFile(t, from, "data.bin", tc.size, uint64(tc.size))
			src := openSource(t, path, tc.shift)
			r := receive(t, to, src.Offer(NewTransferID()))
			l := newLink(uint64(tc.size), 0.2, 0.2, true)
			p, err := l.run(t, src, r)
			if err != nil {
				t.Fatalf("transfer: %v", err)
			}
			if p != filepath.Join(to, "data.bin") {
				t.Errorf("received as %s; want data.bin in %s", p, to)
			}
			checkReceived(t, to, p, data)
			if r.Stats().Written != r.Blocks() {
				t.Errorf("%d blocks written for a file of %d", r.Stats().Written, r.Blocks())
			}
		})
	}
}

// TestResumeAfterKill drops a receiver halfway without closing it, as
// kill -9 would, and resumes from its files: only what the last checkpoint
// did not save is fetched again, from a sender that restarted too.
func TestResumeAfterKill(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	path, data := writeFile(t, from, "big.bin", 100<<smallShift, 1)
	src := openSource(t, path, smallShift)
	offer := src.Offer(NewTransferID())
	r := receive(t, to, offer)
	deliver := func(first, last uint64) {
		for i := first; i < last; i++ {
			k, err := src.ReadBlock(offer.ID, i)
			if err == nil {
				err = r.Deliver(k)
			}
			if err != nil {
				t.Fatalf("block %d: %v", i, err)
			}
		}
	}
	deliver(0, 40)
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	deliver(40, 60) // written, but not saved as had: a kill now loses them

	resumed, err := Resume(to, offer.ID)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	t.Cleanup(func() { resumed.Close() })
	if resumed.Have() != 40 || resumed.Name() != "big.bin" {
		t.Fatalf("resumed with %d blocks as %q; want the 40 checkpointed, as big.bin", resumed.Have(), resumed.Name())
	}
	restarted, err := ReopenSource(path, offer)
	if err != nil {
		t.Fatalf("ReopenSource: %v", err)
	}
	defer restarted.Close()
	l := newLink(2, 0.1, 0.1, true)
	p, err := l.run(t, restarted, resumed)
	if err != nil {
		t.Fatalf("resumed transfer: %v", err)
	}
	checkReceived(t, to, p, data)
	for i := range uint64(40) {
		if l.served[i] != 0 {
			t.Errorf("block %d, saved before the kill, was fetched again", i)
		}
	}
	if resumed.Stats().Written != 60 {
		t.Errorf("the resumed receiver wrote %d blocks; want the 60 missing", resumed.Stats().Written)
	}
}

func TestCorruptBlockOnDiskIsRefetchedAlone(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	path, data := writeFile(t, from, "doc.pdf", 50<<smallShift+100, 3)
	src := openSource(t, path, smallShift)
	offer := src.Offer(NewTransferID())
	// Every block arrives, then the receiver stops before Finish, and block 7
	// rots on disk.
	r := receive(t, to, offer)
	if err := newLink(3, 0, 0, false).round(t, src, r); err != nil || !r.Complete() {
		t.Fatalf("one round of 64 blocks: %v, %d of %d blocks", err, r.Have(), r.Blocks())
	}
	r.Close()
	f, err := os.OpenFile(r.file(".part"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("rot"), 7<<smallShift+10)
	f.Close()

	r3, err := Resume(to, offer.ID)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	defer r3.Close()
	if _, err := r3.Finish(); !errors.Is(err, ErrRefetch) {
		t.Fatalf("Finish over a damaged block: %v; want ErrRefetch", err)
	}
	if m := r3.Missing(0, 100); len(m) != 1 || m[0] != (wire.FileRange{First: 7, Count: 1}) {
		t.Fatalf("missing after the damage: %v; want block 7 alone", m)
	}
	l := newLink(5, 0, 0, false)
	p, err := l.run(t, src, r3)
	if err != nil {
		t.Fatalf("refetch: %v", err)
	}
	if l.fetched() != 1 || l.served[7] != 1 {
		t.Errorf("fetched %v again; want block 7 once", l.served)
	}
	checkReceived(t, to, p, data)
}

func TestLyingSenderFailsTheTransfer(t *testing.T) {
	from := t.TempDir()
	path, _ := writeFile(t, from, "x.bin", 10<<smallShift, 6)
	src := openSource(t, path, smallShift)
	offer := src.Offer(NewTransferID())
	good := func(i uint64) wire.FileBlockMessage {
		k, err := src.ReadBlock(offer.ID, i)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	for name, lie := range map[string]func() wire.FileBlockMessage{
		"flipped byte": func() wire.FileBlockMessage { k := good(3); k.Data[0] ^= 1; return k },
		"another block's data": func() wire.FileBlockMessage {
			k := good(3)
			k.Data = good(4).Data
			return k
		},
		"wrong proof": func() wire.FileBlockMessage { k := good(3); k.Proof[1][0] ^= 1; return k },
		"short":       func() wire.FileBlockMessage { k := good(3); k.Data = k.Data[:100]; return k },
		"past the end": func() wire.FileBlockMessage {
			k := good(9)
			k.Index = 10
			return k
		},
	} {
		t.Run(name, func(t *testing.T) {
			to := t.TempDir()
			r := receive(t, to, offer)
			if err := r.Deliver(good(0)); err != nil {
				t.Fatalf("a good block: %v", err)
			}
			err := r.Deliver(lie())
			if !errors.Is(err, ErrBadBlock) || !strings.Contains(err.Error(), "does not match its offer") {
				t.Fatalf("Deliver of a lie: %v; want ErrBadBlock saying so", err)
			}
			if err := r.Deliver(good(1)); !errors.Is(err, ErrBadBlock) {
				t.Errorf("Deliver after the lie: %v; want the transfer failed", err)
			}
			if m := r.Missing(0, 10); len(m) != 0 {
				t.Errorf("a failed transfer asks for %v", m)
			}
			r.Abort()
			if left, _ := os.ReadDir(to); len(left) != 0 {
				t.Errorf("Abort left %v", left)
			}
		})
	}
}

func TestChangedSourceIsDetected(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, path string){
		"appended to": func(t *testing.T, path string) {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("more"))
			f.Close()
		},
		"renamed": func(t *testing.T, path string) { os.Rename(path, path+".old") },
		"replaced": func(t *testing.T, path string) {
			writeFile(t, filepath.Dir(path), filepath.Base(path)+".new", 8<<smallShift, 77)
			os.Rename(path+".new", path)
		},
		"rewritten in place, mtime restored": func(t *testing.T, path string) {
			info, _ := os.Stat(path)
			f, _ := os.OpenFile(path, os.O_WRONLY, 0)
			f.WriteAt([]byte("changed"), 5<<smallShift)
			f.Close()
			os.Chtimes(path, info.ModTime(), info.ModTime())
		},
	} {
		t.Run(name, func(t *testing.T) {
			path, _ := writeFile(t, t.TempDir(), "src.bin", 8<<smallShift, 7)
			src := openSource(t, path, smallShift)
			offer := src.Offer(NewTransferID())
			change(t, path)
			_, err := src.ReadBlock(offer.ID, 5)
			if !errors.Is(err, ErrSourceChanged) {
				t.Fatalf("ReadBlock after the file was %s: %v; want ErrSourceChanged", name, err)
			}
			if _, err := ReopenSource(path, offer); err == nil {
				t.Errorf("ReopenSource after the file was %s succeeded", name)
			}
		})
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":         "report.pdf",
		"../../etc/x":        "x",
		"/abs":               "abs",
		"/":                  "file",
		"..":                 "file",
		"":                   "file",
		`C:\Windows\win.ini`: "win.ini",
		"a\x00b\nc\r.txt":    "a_b_c_.txt",
		"\x1b[31mred":        "_[31mred",
		".bashrc":            "bashrc",
		"trailing. . ":       "trailing",
		"evil\u202egpj.exe":  "evil_gpj.exe",
		"bad\xffutf8":        "bad_utf8",
		"été ☃.txt":          "été ☃.txt",
		".udpchat-00.part":   "udpchat-00.part",
	} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q; want %q", in, got, want)
		}
	}
	long := SanitizeName(strings.Repeat("é", 200) + ".jpeg")
	if len(long) > maxNameLen || !strings.HasSuffix(long, "é.jpeg") {
		t.Errorf("a long name became %q (%d bytes); want at most %d, ending é.jpeg", long, len(long), maxNameLen)
	}
}

// TestHostileNamesLandInside receives files offered under hostile names:
// each lands inside the downloads dir, and nothing outside it changes.
func TestHostileNamesLandInside(t *testing.T) {
	root := t.TempDir()
	to := filepath.Join(root, "a", "downloads")
	os.MkdirAll(to, 0o700)
	for i, name := range []string{"../../x", "../x", "/abs", "/etc/passwd", "..", ".", "a\x00b", "line\nbreak", `..\..\win`} {
		path, data := writeFile(t, root, "src", 5000, uint64(i))
		src := openSource(t, path, smallShift)
		offer := src.Offer(NewTransferID())
		offer.Name = name
		r := receive(t, to, offer)
		p, err := newLink(9, 0, 0, false).run(t, src, r)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		checkReceived(t, to, p, data)
	}
	outside, _ := os.ReadDir(root)
	if len(outside) != 2 { // src and a
		t.Errorf("the root holds %v; want src and a alone", outside)
	}
	if up, _ := os.ReadDir(filepath.Join(root, "a")); len(up) != 1 {
		t.Errorf("the downloads dir's parent holds %v; want downloads alone", up)
	}
}

func TestNeverOverwrites(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	path, data := writeFile(t, from, "a.tar.gz", 3000, 10)
	writeFile(t, to, "a.tar.gz", 3000, 11)
	writeFile(t, to, "a (1).tar.gz", 10, 12)
	src := openSource(t, path, smallShift)
	r := receive(t, to, src.Offer(NewTransferID()))
	// Another file takes the next name while the transfer runs.
	writeFile(t, to, "a (2).tar.gz", 3000, 13)
	p, err := newLink(10, 0, 0, false).run(t, src, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(to, "a (3).tar.gz"); p != want {
		t.Errorf("received as %s; want %s", p, want)
	}
	checkReceived(t, to, p, data)
	for name, seed := range map[string]uint64{"a.tar.gz": 11, "a (2).tar.gz": 13} {
		_, want := writeFile(t, t.TempDir(), "w", 3000, seed)
		if got, _ := os.ReadFile(filepath.Join(to, name)); !bytes.Equal(got, want) {
			t.Errorf("%s was overwritten", name)
		}
	}
}

func TestSameContentCompletesAtOnce(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	path, _ := writeFile(t, from, "song.ogg", 20000, 14)
	writeFile(t, to, "song.ogg", 20000, 15) // same name and size, other content
	writeFile(t, to, "song (1).ogg", 20000, 14)
	src := openSource(t, path, smallShift)
	r := receive(t, to, src.Offer(NewTransferID()))
	if !r.Done() || r.Path() != filepath.Join(to, "song (1).ogg") {
		t.Fatalf("Done() = %v, Path() = %q; want done at once as song (1).ogg", r.Done(), r.Path())
	}
	if m := r.Missing(0, 10); len(m) != 0 {
		t.Errorf("a done transfer asks for %v", m)
	}
	if all, _ := os.ReadDir(to); len(all) != 2 {
		t.Errorf("the downloads dir holds %v; want the two files alone", all)
	}
}

func TestMaxSize(t *testing.T) {
	to := t.TempDir()
	offer := wire.FileOfferMessage{ID: NewTransferID(), Size: 1001, BlockShift: smallShift, Name: "big"}
	if _, err := Receive(to, offer, Limits{MaxSize: 1000}); !errors.Is(err, ErrTooBig) {
		t.Errorf("an offer of 1001 bytes over a limit of 1000: %v; want ErrTooBig", err)
	}
	offer.Size = DefaultMaxSize + 1
	if _, err := Receive(to, offer, Limits{}); !errors.Is(err, ErrTooBig) {
		t.Errorf("an offer over the default limit: %v; want ErrTooBig", err)
	}
	offer.Size, offer.BlockShift = (maxBlocks+1)<<smallShift, smallShift
	if _, err := Receive(to, offer, Limits{MaxSize: 1 << 62}); !errors.Is(err, ErrTooBig) {
		t.Errorf("an offer of %d blocks under a limit of 2^62 bytes: %v; want ErrTooBig", maxBlocks+1, err)
	}
	if all, _ := os.ReadDir(to); len(all) != 0 {
		t.Errorf("refused offers left %v", all)
	}
	offer.Size = 1000
	r, err := Receive(to, offer, Limits{MaxSize: 1000})
	if err != nil {
		t.Fatalf("an offer at the limit: %v", err)
	}
	defer r.Abort()
	if _, err := Receive(to, offer, Limits{MaxSize: 1000}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("receiving a transfer in progress again: %v; want fs.ErrExist", err)
	}
}

// TestReceiveCutShortBeforeItsState: a crash between creating the
// transfer's files and saving its state leaves files Resume cannot use;
// receiving the offer again starts afresh.
func TestReceiveCutShortBeforeItsState(t *testing.T) {
	path, data := writeFile(t, t.TempDir(), "f", 9000, 17)
	src := openSource(t, path, smallShift)
	offer := src.Offer(NewTransferID())
	to := t.TempDir()
	r := receive(t, to, offer)
	r.close()
	os.Remove(r.file(".state"))
	if _, err := Resume(to, offer.ID); err == nil {
		t.Fatal("Resume without a state succeeded")
	}
	again := receive(t, to, offer)
	p, err := newLink(17, 0, 0, false).run(t, src, again)
	if err != nil {
		t.Fatal(err)
	}
	checkReceived(t, to, p, data)
}

func TestMissing(t *testing.T) {
	path, _ := writeFile(t, t.TempDir(), "m.bin", 100<<smallShift, 16)
	src := openSource(t, path, smallShift)
	offer := src.Offer(NewTransferID())
	r := receive(t, t.TempDir(), offer)
	for i := uint64(0); i < 100; i += 3 { // have 0, 3, 6, ...: 66 gaps of 2
		k, _ := src.ReadBlock(offer.ID, i)
		if err := r.Deliver(k); err != nil {
			t.Fatal(err)
		}
	}
	all := r.Missing(0, 1000)
	if len(all) != wire.MaxFileRanges || all[0] != (wire.FileRange{First: 1, Count: 2}) || all[31] != (wire.FileRange{First: 94, Count: 2}) {
		t.Errorf("Missing(0, 1000) = %v; want the first %d gaps, 1-2 to 94-95", all, wire.MaxFileRanges)
	}
	if got := r.Missing(50, 5); !slices.Equal(got, []wire.FileRange{{First: 50, Count: 1}, {First: 52, Count: 2}, {First: 55, Count: 2}}) {
		t.Errorf("Missing(50, 5) = %v; want 50, 52-53, 55-56", got)
	}
}

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	a, _ := writeFile(t, dir, "a", 10, 1)
	b, want := writeFile(t, dir, "b", 10, 2)
	err := renameNoReplace(a, b)
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("no rename without replacing here")
	}
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("renaming onto a file: %v; want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(b); !bytes.Equal(got, want) {
		t.Fatal("the file renamed onto was replaced")
	}
	if err := renameNoReplace(a, filepath.Join(dir, "c")); err != nil {
		t.Fatalf("renaming to a free name: %v", err)
	}
}

// A source shared by several transfers serves blocks until the last of
// them lets it go.
func TestSharedSourceClosesWithItsLastUser(t *testing.T) {
	path, _ := writeFile(t, t.TempDir(), "shared.bin", 3<<12, 1)
	s, err := OpenSource(path, 12)
	if err != nil {
		t.Fatal(err)
	}
	other := s.Share()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ReadBlock([wire.FileIDLen]byte{}, 1); err != nil {
		t.Fatalf("a block of a source one user still holds: %v", err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ReadBlock([wire.FileIDLen]byte{}, 1); err == nil {
		t.Fatal("a block was read from a source every user let go")
	}
}
