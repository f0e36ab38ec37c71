package files

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/udpchat/udpchat/internal/wire"
)

// ErrSourceChanged is what a sender's file that was renamed, replaced or
// written to since it was hashed into the offer makes every later read
// fail with: the receiver would otherwise get blocks of another file.
var ErrSourceChanged = errors.New("files: the file changed since it was offered")

// Source is a file hashed into an offer, ready to serve its blocks. It
// keeps the file open and its whole tree in memory (64 bytes a block: 1 MiB
// a GiB at the default 64 KiB blocks), so any block's proof is at hand.
// Its methods may be called from several goroutines at once.
type Source struct {
	path  string
	f     *os.File
	info  os.FileInfo // when hashed: size, mtime and identity
	shift uint8
	tree  *tree
	// sums are the blocks' CRC-32C, taken as they were hashed: what
	// ReadBlock checks a block against before it goes (see there).
	sums []uint32
	// users counts who hold the source (Share): the file is closed when
	// the last lets go.
	users atomic.Int64
}

// OpenSource hashes the file at path into blocks of 2^blockShift bytes
// (wire.DefaultFileBlockShift unless the receiver is to resume an offer
// made with another), reading it once, one block at a time.
func OpenSource(path string, blockShift uint8) (*Source, error) {
	if blockShift < wire.MinFileBlockShift || blockShift > wire.MaxFileBlockShift {
		return nil, fmt.Errorf("files: a block size of 2^%d (must be 2^%d to 2^%d)", blockShift, wire.MinFileBlockShift, wire.MaxFileBlockShift)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && !info.Mode().IsRegular() {
		err = fmt.Errorf("files: %s is not a regular file", path)
	}
	var leaves []Hash
	var sums []uint32
	if err == nil {
		leaves, err = hashLeaves(f, info.Size(), blockShift, func(b []byte) { sums = append(sums, crc32.Checksum(b, castagnoli)) })
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &Source{path: path, f: f, info: info, shift: blockShift, tree: newTree(leaves), sums: sums}
	s.users.Store(1)
	if err := s.unchanged(); err != nil { // written to while we read it
		f.Close()
		return nil, err
	}
	return s, nil
}

// ReopenSource opens the file of an offer made before (by this process or
// one before a restart) to serve the rest of its blocks. It hashes the file
// again, and fails with ErrSourceChanged unless it is still the content
// offered.
func ReopenSource(path string, offer wire.FileOfferMessage) (*Source, error) {
	s, err := OpenSource(path, offer.BlockShift)
	if err != nil {
		return nil, err
	}
	if s.Size() != offer.Size || s.Root() != offer.Root {
		s.Close()
		return nil, fmt.Errorf("%w: %s is not the content offered as %q any more", ErrSourceChanged, path, offer.Name)
	}
	return s, nil
}

// castagnoli is CRC-32C's table: the polynomial CPUs compute in hardware.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hashLeaves reads size bytes of f, block by block, into their leaf hashes;
// each block, if also is not nil, is handed to it as well, in order.
func hashLeaves(f io.Reader, size int64, shift uint8, also func([]byte)) ([]Hash, error) {
	n := blocksOf(uint64(size), shift)
	leaves := make([]Hash, n)
	batch := make([][]byte, min(n, hashBatch))
	for i := range batch {
		batch[i] = make([]byte, 1<<shift)
	}
	for done := uint64(0); done < n; {
		k := min(n-done, hashBatch)
		for j := range k {
			b := batch[j][:min(size-int64(done+j)<<shift, 1<<shift)]
			if _, err := io.ReadFull(f, b); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
					return nil, fmt.Errorf("%w: it was cut short while being read", ErrSourceChanged)
				}
				return nil, err
			}
			batch[j] = b
			if also != nil {
				also(b)
			}
		}
		leafHashes(batch[:k], leaves[done:done+k])
		done += k
	}
	return leaves, nil
}

func blocksOf(size uint64, shift uint8) uint64 { return (size + 1<<shift - 1) >> shift }

// NewTransferID is a random transfer ID for a new offer.
func NewTransferID() [wire.FileIDLen]byte {
	var id [wire.FileIDLen]byte
	rand.Read(id[:])
	return id
}

// Root is the content's hash, the root of its tree.
func (s *Source) Root() Hash { return s.tree.root() }

// Size is the file's size when it was hashed.
func (s *Source) Size() uint64 { return uint64(s.info.Size()) }

// Offer is the offer of this file as transfer id. Its name is the file's
// own, made valid UTF-8 and cut to wire.MaxFileNameLen bytes.
func (s *Source) Offer(id [wire.FileIDLen]byte) wire.FileOfferMessage {
	return wire.FileOfferMessage{
		ID:         id,
		Root:       s.Root(),
		Size:       s.Size(),
		BlockShift: s.shift,
		Name:       offerName(filepath.Base(s.path)),
	}
}

func offerName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	for len(name) > wire.MaxFileNameLen {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return name
}

// ReadBlock reads block i, checks it is still what was hashed, and returns
// it with its proof as transfer id's block message. A file renamed,
// replaced, resized or touched since (its mtime), or a block whose content
// changed even so, fails with ErrSourceChanged: the transfer cannot go on.
//
// The content is checked with the block's CRC-32C, not its BLAKE2b leaf:
// the check is for changes made on this machine (an editor, a download
// still being written), not for an attacker, and the receiver verifies
// every block against the offer's tree whatever the sender checked. A
// CRC costs a few per cent of a BLAKE2b hash, which was a quarter of all
// the hashing a transfer does.
func (s *Source) ReadBlock(id [wire.FileIDLen]byte, i uint64) (wire.FileBlockMessage, error) {
	leaves := s.tree.levels[0]
	if i >= uint64(len(leaves)) {
		return wire.FileBlockMessage{}, fmt.Errorf("files: block %d of a file of %d blocks", i, len(leaves))
	}
	if err := s.unchanged(); err != nil {
		return wire.FileBlockMessage{}, err
	}
	off := int64(i) << s.shift
	data := make([]byte, min(int64(1)<<s.shift, s.info.Size()-off))
	if _, err := s.f.ReadAt(data, off); err != nil {
		if errors.Is(err, io.EOF) {
			return wire.FileBlockMessage{}, fmt.Errorf("%w: %s is shorter than it was", ErrSourceChanged, s.path)
		}
		return wire.FileBlockMessage{}, err
	}
	if crc32.Checksum(data, castagnoli) != s.sums[i] {
		return wire.FileBlockMessage{}, fmt.Errorf("%w: block %d of %s is not what it was", ErrSourceChanged, i, s.path)
	}
	return wire.FileBlockMessage{ID: id, Index: i, Proof: s.tree.proof(i), Data: data}, nil
}

// unchanged checks that the path still names the file hashed, with its
// size and mtime of then.
func (s *Source) unchanged() error {
	now, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %s is gone (renamed or removed)", ErrSourceChanged, s.path)
	case err != nil:
		return err
	case !os.SameFile(now, s.info):
		return fmt.Errorf("%w: %s is another file now (renamed or replaced)", ErrSourceChanged, s.path)
	}
	open, err := s.f.Stat()
	if err != nil {
		return err
	}
	if open.Size() != s.info.Size() || !open.ModTime().Equal(s.info.ModTime()) {
		return fmt.Errorf("%w: %s was written to (size %d → %d, modified %s)", ErrSourceChanged, s.path,
			s.info.Size(), open.Size(), open.ModTime().Format("2006-01-02 15:04:05.000"))
	}
	return nil
}

// Share gives the source to one more user, which closes it when done: a
// file sent to several people is hashed, and held open, once.
func (s *Source) Share() *Source {
	s.users.Add(1)
	return s
}

// Close lets the source go; the last user to let go closes the file.
func (s *Source) Close() error {
	if s.users.Add(-1) > 0 {
		return nil
	}
	return s.f.Close()
}
