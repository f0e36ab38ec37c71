// Package files moves one file from a sender to a receiver over any link:
// the sender hashes the file into an offer and serves its blocks, each with
// the proof that it belongs to the offer's root; the receiver verifies each
// block as it lands, writes it into a temporary file beside the target,
// remembers what it has across restarts, says which blocks it still lacks,
// and puts the file under its name only once the whole of it hashes to the
// root. Neither side sends anything itself: the caller carries the
// messages (internal/wire's File*), so the same code runs over a chat
// session, a test's lossy shim, or anything else.
package files

import (
	"runtime"
	"sync"
	"sync/atomic"

	"errors"

	"github.com/udpchat/udpchat/internal/wire"
	"golang.org/x/crypto/blake2b"
)

// Hash is a BLAKE2b-256 digest: a leaf, an inner node or a root.
type Hash = [wire.FileHashLen]byte

// The tree is RFC 9162's Merkle tree with BLAKE2b-256 in place of SHA-256:
// a leaf is H(0x00 ‖ block), an inner node H(0x01 ‖ left ‖ right), so that
// neither can pass for the other, and the tree of no blocks is H(). Built
// level by level, it pairs the nodes of each level from the left and
// carries an odd last node up unchanged; that is the same tree as RFC
// 9162's recursive split at the largest power of two.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

func leafHash(block []byte) Hash {
	h, _ := blake2b.New256(nil)
	h.Write([]byte{leafPrefix})
	h.Write(block)
	var out Hash
	h.Sum(out[:0])
	return out
}

// leafHashes hashes blocks into out on as many cores as the process has:
// leaves are independent, and hashing is what reading a whole file costs
// (the offer, the receiver's final check).
func leafHashes(blocks [][]byte, out []Hash) {
	workers := min(runtime.GOMAXPROCS(0), len(blocks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(blocks)); i = next.Add(1) - 1 {
				out[i] = leafHash(blocks[i])
			}
		})
	}
	wg.Wait()
}

// hashBatch is how many blocks leafHashes is given at a time when a file
// is read whole: enough for each core to have several, 2 MiB of 64 KiB
// blocks in memory.
const hashBatch = 32

func nodeHash(left, right *Hash) Hash {
	var buf [1 + 2*wire.FileHashLen]byte
	buf[0] = nodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+wire.FileHashLen:], right[:])
	return blake2b.Sum256(buf[:])
}

// tree holds every level of a Merkle tree, leaves first, the root's level
// (one node) last: 2 hashes a block, which is what lets the sender answer
// any block's proof without hashing anything again.
type tree struct{ levels [][]Hash }

func newTree(leaves []Hash) *tree {
	t := &tree{levels: [][]Hash{leaves}}
	for level := leaves; len(level) > 1; {
		up := make([]Hash, (len(level)+1)/2)
		for i := range up {
			if 2*i+1 < len(level) {
				up[i] = nodeHash(&level[2*i], &level[2*i+1])
			} else {
				up[i] = level[2*i]
			}
		}
		t.levels = append(t.levels, up)
		level = up
	}
	return t
}

func (t *tree) root() Hash {
	top := t.levels[len(t.levels)-1]
	if len(top) == 0 {
		return blake2b.Sum256(nil)
	}
	return top[0]
}

// proof is block i's audit path: its sibling on every level that has one,
// from the leaves up.
func (t *tree) proof(i uint64) []Hash {
	var p []Hash
	for _, level := range t.levels[:len(t.levels)-1] {
		if sib := i ^ 1; sib < uint64(len(level)) {
			p = append(p, level[sib])
		}
		i >>= 1
	}
	return p
}

// rootOf is the root of a tree with these leaves, without keeping its
// levels.
func rootOf(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return blake2b.Sum256(nil)
	}
	level := append([]Hash(nil), leaves...)
	for len(level) > 1 {
		n := 0
		for i := 0; i < len(level); i += 2 {
			if i+1 < len(level) {
				level[n] = nodeHash(&level[i], &level[i+1])
			} else {
				level[n] = level[i]
			}
			n++
		}
		level = level[:n]
	}
	return level[0]
}

var errProof = errors.New("the proof does not lead to the root")

// verifyProof checks that leaf is block i of n under root, by proof.
func verifyProof(root Hash, n, i uint64, leaf Hash, proof []Hash) error {
	if i >= n {
		return errProof
	}
	r := leaf
	for width := n; width > 1; width = (width + 1) / 2 {
		switch {
		case i&1 == 1:
			if len(proof) == 0 {
				return errProof
			}
			r = nodeHash(&proof[0], &r)
			proof = proof[1:]
		case i+1 < width:
			if len(proof) == 0 {
				return errProof
			}
			r = nodeHash(&r, &proof[0])
			proof = proof[1:]
		}
		i >>= 1
	}
	if len(proof) != 0 || r != root {
		return errProof
	}
	return nil
}
