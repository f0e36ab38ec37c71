package files

import (
	"crypto/sha256"
	"testing"

	"github.com/udpchat/udpchat/internal/wire"
	"golang.org/x/crypto/blake2b"
)

// The baselines: what the hash alone does with 64 KiB blocks, and SHA-256
// (Magic Wormhole's, and the usual choice) for comparison.
func BenchmarkBLAKE2bAlone(b *testing.B) {
	block := make([]byte, 1<<wire.DefaultFileBlockShift)
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		blake2b.Sum256(block)
	}
}

func BenchmarkSHA256Alone(b *testing.B) {
	block := make([]byte, 1<<wire.DefaultFileBlockShift)
	b.SetBytes(int64(len(block)))
	for b.Loop() {
		sha256.Sum256(block)
	}
}

const benchSize = 32 << 20

// BenchmarkHashSource: the sender hashes a 32 MiB file (in the page cache)
// into its offer.
func BenchmarkHashSource(b *testing.B) {
	path, _ := writeFile(b, b.TempDir(), "f", benchSize, 1)
	b.SetBytes(benchSize)
	for b.Loop() {
		s, err := OpenSource(path, wire.DefaultFileBlockShift)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkVerifyBlock: the receiver verifies one 64 KiB block of a 32 MiB
// file against the root: its leaf hash and its proof of 9 hashes.
func BenchmarkVerifyBlock(b *testing.B) {
	path, _ := writeFile(b, b.TempDir(), "f", benchSize, 1)
	s := openSource(b, path, wire.DefaultFileBlockShift)
	offer := s.Offer(NewTransferID())
	k, err := s.ReadBlock(offer.ID, 100)
	if err != nil {
		b.Fatal(err)
	}
	r := &Receiver{offer: offer, n: offer.Blocks()}
	b.SetBytes(int64(len(k.Data)))
	for b.Loop() {
		if _, err := r.verify(k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceive: the receiver takes a 32 MiB file whose blocks are in
// memory: verifies and writes each, checkpoints, verifies the whole file
// read back, and links it into place.
func BenchmarkReceive(b *testing.B) {
	path, _ := writeFile(b, b.TempDir(), "f", benchSize, 1)
	s := openSource(b, path, wire.DefaultFileBlockShift)
	offer := s.Offer(NewTransferID())
	var blocks []wire.FileBlockMessage
	for i := range offer.Blocks() {
		k, err := s.ReadBlock(offer.ID, i)
		if err != nil {
			b.Fatal(err)
		}
		blocks = append(blocks, k)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		r, err := Receive(b.TempDir(), offer, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range blocks {
			if err := r.Deliver(k); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := r.Finish(); err != nil {
			b.Fatal(err)
		}
	}
}
