package files

import (
	"testing"

	"golang.org/x/crypto/blake2b"
)

// rfcRoot is RFC 9162's recursive definition of the tree, written out
// independently of the level-by-level tree of the package.
func rfcRoot(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return blake2b.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for 2*k < len(leaves) {
		k *= 2
	}
	l, r := rfcRoot(leaves[:k]), rfcRoot(leaves[k:])
	return blake2b.Sum256(append(append([]byte{nodePrefix}, l[:]...), r[:]...))
}

func TestTreeIsRFC9162s(t *testing.T) {
	for n := range 70 {
		leaves := make([]Hash, n)
		for i := range leaves {
			leaves[i] = leafHash([]byte{byte(i), byte(n)})
		}
		tr := newTree(leaves)
		want := rfcRoot(leaves)
		if tr.root() != want || rootOf(leaves) != want {
			t.Fatalf("%d leaves: root %x, rootOf %x; RFC 9162 says %x", n, tr.root(), rootOf(leaves), want)
		}
		for i := range uint64(n) {
			p := tr.proof(i)
			if err := verifyProof(want, uint64(n), i, leaves[i], p); err != nil {
				t.Fatalf("%d leaves: the proof of leaf %d does not verify", n, i)
			}
			if len(p) > 0 {
				p[0][0] ^= 1
				if verifyProof(want, uint64(n), i, leaves[i], p) == nil {
					t.Errorf("%d leaves: a damaged proof of leaf %d verifies", n, i)
				}
				if verifyProof(want, uint64(n), i, leaves[i], p[1:]) == nil {
					t.Errorf("%d leaves: a short proof of leaf %d verifies", n, i)
				}
			}
		}
	}
}

func TestLeafAndNodeDiffer(t *testing.T) {
	a, b := leafHash([]byte("a")), leafHash([]byte("b"))
	if nodeHash(&a, &b) == leafHash(append(a[:], b[:]...)) {
		t.Fatal("an inner node hashes like a leaf of its children's bytes")
	}
}
