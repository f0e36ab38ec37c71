package files

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"

	"github.com/udpchat/udpchat/internal/safefile"
	"github.com/udpchat/udpchat/internal/wire"
)

// Receiving errors.
var (
	// ErrTooBig: the offer is over Limits.MaxSize.
	ErrTooBig = errors.New("files: the file is over the size limit")
	// ErrBadBlock: the sender sent a block that is not the offer's. The
	// link is authenticated, so the sender sent it: the transfer fails.
	ErrBadBlock = errors.New("files: the sender sent a block that does not match its offer")
	// ErrRefetch: Finish found blocks on disk that are not what arrived
	// (the disk, or someone, changed them); they are missing again, and
	// only they are to be asked for again.
	ErrRefetch = errors.New("files: blocks on disk were damaged and are to be fetched again")
	// ErrIncomplete: Finish before every block has arrived.
	ErrIncomplete = errors.New("files: the file is not complete")
)

// DefaultMaxSize is the largest offer a receiver takes unless told otherwise.
const DefaultMaxSize = 4 << 30

// maxBlocks bounds the blocks of any offer, whatever Limits say: what a
// receiver holds a block (a bit of bitmap, 32 bytes of leaf hash on disk)
// stays bounded (2 MiB, 512 MiB) however large a size it is offered. At
// 64 KiB blocks it is 1 TiB.
const maxBlocks = 1 << 24

// checkpointBlocks is how many new blocks make Deliver save the have-bitmap:
// at most this many blocks (16 MiB of 64 KiB blocks) arrive again after a
// crash. The caller may Checkpoint more often, on a timer.
const checkpointBlocks = 256

// Limits bound what a receiver accepts.
type Limits struct {
	MaxSize uint64 // largest offer in bytes; 0 is DefaultMaxSize
}

// Stats count what a receiver did with the blocks delivered to it.
type Stats struct {
	Written    uint64 // verified and written
	Duplicates uint64 // already there: ignored
}

// Receiver takes one offered file into a downloads dir. Three files beside
// the target hold a transfer in progress, named by its transfer ID:
// ".udpchat-ID.part" (the content, written in place), ".udpchat-ID.leaves"
// (the leaf hash of each block written) and ".udpchat-ID.state" (the offer
// and the have-bitmap, replaced whole by Checkpoint). A Receiver is not
// safe for use by several goroutines at once.
type Receiver struct {
	dir   string
	offer wire.FileOfferMessage
	name  string // sanitized: the file's name in dir, before any " (k)"
	n     uint64 // blocks

	part, leaves *os.File
	have         []uint64 // bit i: block i written, verified
	haveCount    uint64
	unsaved      int // blocks written since the last checkpoint

	path   string // where the file is, once done
	failed error  // ErrBadBlock: the transfer cannot go on
	stats  Stats
}

// Receive starts receiving offer into dir. If a file of the offered name
// (or name (k)) already in dir has the offered content, the receiver is
// done at once (Path says which). An offer over the limit fails with
// ErrTooBig, and one already in progress in dir (its state saved) with
// fs.ErrExist: Resume it instead.
func Receive(dir string, offer wire.FileOfferMessage, lim Limits) (*Receiver, error) {
	maxSize := lim.MaxSize
	if maxSize == 0 {
		maxSize = DefaultMaxSize
	}
	if offer.Size > maxSize {
		return nil, fmt.Errorf("%w: %q is %d bytes, the limit is %d", ErrTooBig, offer.Name, offer.Size, maxSize)
	}
	if err := checkBlocks(offer); err != nil {
		return nil, err
	}
	r := newReceiver(dir, offer, SanitizeName(offer.Name))
	if p, err := r.findSame(); err != nil || p != "" {
		r.path = p
		return r, err
	}
	// Files of this transfer without a state are of a Receive cut short
	// before its first checkpoint: nothing in them counts.
	if _, err := os.Lstat(r.file(".state")); errors.Is(err, fs.ErrNotExist) {
		os.Remove(r.file(".part"))
		os.Remove(r.file(".leaves"))
	}
	var err error
	// The content's mode is the umask's, as any download's: the final file
	// is this one, linked.
	if r.part, err = os.OpenFile(r.file(".part"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666); err != nil {
		return nil, err
	}
	if r.leaves, err = os.OpenFile(r.file(".leaves"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		err = r.part.Truncate(int64(offer.Size))
	}
	if err == nil {
		err = r.Checkpoint()
	}
	if err != nil {
		r.Abort()
		return nil, err
	}
	return r, nil
}

func checkBlocks(offer wire.FileOfferMessage) error {
	if offer.Blocks() > maxBlocks {
		return fmt.Errorf("%w: %q is %d blocks of %d bytes, the limit is %d blocks", ErrTooBig, offer.Name, offer.Blocks(), offer.BlockSize(), maxBlocks)
	}
	return nil
}

func newReceiver(dir string, offer wire.FileOfferMessage, name string) *Receiver {
	n := offer.Blocks()
	return &Receiver{dir: dir, offer: offer, name: name, n: n, have: make([]uint64, (n+63)/64)}
}

// file is the path of one of the transfer's files beside the target.
func (r *Receiver) file(suffix string) string {
	return filepath.Join(r.dir, ".udpchat-"+hex.EncodeToString(r.offer.ID[:])+suffix)
}

// state is the .state file: the offer, the name, the have-bitmap.
type state struct {
	ID         string `json:"id"`
	Root       string `json:"root"`
	Size       uint64 `json:"size"`
	BlockShift uint8  `json:"block_shift"`
	Offered    string `json:"offered_name"`
	Name       string `json:"name"`
	Have       []byte `json:"have"`
}

// Resume reopens transfer id in dir from its files, after the receiver was
// dropped, the process killed or the machine restarted: the blocks the last
// checkpoint saved are there, and only the others are missing.
func Resume(dir string, id [wire.FileIDLen]byte) (*Receiver, error) {
	probe := &Receiver{dir: dir, offer: wire.FileOfferMessage{ID: id}}
	raw, err := os.ReadFile(probe.file(".state"))
	if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("files: %s: %w", probe.file(".state"), err)
	}
	offer := wire.FileOfferMessage{ID: id, Size: st.Size, BlockShift: st.BlockShift, Name: st.Offered}
	root, err := hex.DecodeString(st.Root)
	if err != nil || len(root) != len(offer.Root) || st.ID != hex.EncodeToString(id[:]) {
		return nil, fmt.Errorf("files: %s does not describe transfer %x", probe.file(".state"), id)
	}
	copy(offer.Root[:], root)
	if _, err := wire.AppendFileOffer(nil, offer); err != nil {
		return nil, fmt.Errorf("files: %s: %w", probe.file(".state"), err)
	}
	if err := checkBlocks(offer); err != nil {
		return nil, fmt.Errorf("files: %s: %w", probe.file(".state"), err)
	}
	r := newReceiver(dir, offer, SanitizeName(st.Name))
	if len(st.Have) != 8*len(r.have) {
		return nil, fmt.Errorf("files: %s has a bitmap of %d bytes for %d blocks", probe.file(".state"), len(st.Have), r.n)
	}
	for i := range r.have {
		r.have[i] = binary.LittleEndian.Uint64(st.Have[8*i:])
		r.haveCount += uint64(bits.OnesCount64(r.have[i]))
	}
	if r.part, err = os.OpenFile(r.file(".part"), os.O_RDWR, 0); err != nil {
		return nil, err
	}
	if r.leaves, err = os.OpenFile(r.file(".leaves"), os.O_RDWR, 0); err != nil {
		r.part.Close()
		return nil, err
	}
	return r, nil
}

// Offer is the offer being received.
func (r *Receiver) Offer() wire.FileOfferMessage { return r.offer }

// Name is the sanitized name the file will have in the downloads dir (or
// "name (k).ext" if that is taken by then).
func (r *Receiver) Name() string { return r.name }

// Stats counts what Deliver did.
func (r *Receiver) Stats() Stats { return r.stats }

// Have is the number of blocks written and verified, of Blocks.
func (r *Receiver) Have() uint64 { return r.haveCount }

// Blocks is the number of blocks of the file.
func (r *Receiver) Blocks() uint64 { return r.n }

// Complete reports whether every block has arrived (or the file was
// there already): time to Finish.
func (r *Receiver) Complete() bool { return r.haveCount == r.n || r.Done() }

// Done reports whether the file is in place (Path).
func (r *Receiver) Done() bool { return r.path != "" }

// Path is where the file is once done; "" before.
func (r *Receiver) Path() string { return r.path }

func (r *Receiver) has(i uint64) bool { return r.have[i/64]&(1<<(i%64)) != 0 }

// Missing lists the blocks still lacking from block from on, up to max of
// them in at most wire.MaxFileRanges ranges: the next request to send. A
// caller with requests in flight passes where the last one ended, and 0 to
// sweep again from the start for what was lost. It is empty once every
// block has arrived (then Finish) or the transfer is done.
func (r *Receiver) Missing(from, max uint64) []wire.FileRange {
	var rs []wire.FileRange
	if r.failed != nil || r.Done() {
		return nil
	}
	for i := from; i < r.n && max > 0; i++ {
		if r.has(i) {
			continue
		}
		if k := len(rs) - 1; k >= 0 && rs[k].First+rs[k].Count == i {
			rs[k].Count++
		} else if len(rs) == wire.MaxFileRanges {
			break
		} else {
			rs = append(rs, wire.FileRange{First: i, Count: 1})
		}
		max--
	}
	return rs
}

// Deliver verifies a block against the offer's root and writes it. A block
// already there is counted and ignored. A block that fails verification
// (wrong length, wrong content, a proof that does not lead to the root)
// fails the transfer with ErrBadBlock: this and every later Deliver
// return it, and the caller cancels the transfer (FileReasonBadBlock).
func (r *Receiver) Deliver(b wire.FileBlockMessage) error {
	if r.failed != nil {
		return r.failed
	}
	if b.ID != r.offer.ID {
		return fmt.Errorf("files: a block of transfer %x delivered to transfer %x", b.ID, r.offer.ID)
	}
	if r.Done() {
		r.stats.Duplicates++
		return nil
	}
	leaf, err := r.verify(b)
	if err != nil {
		r.failed = fmt.Errorf("%w: block %d of %q: %v", ErrBadBlock, b.Index, r.offer.Name, err)
		return r.failed
	}
	if r.has(b.Index) {
		r.stats.Duplicates++
		return nil
	}
	if _, err := r.part.WriteAt(b.Data, int64(b.Index)<<r.offer.BlockShift); err != nil {
		return err
	}
	if _, err := r.leaves.WriteAt(leaf[:], int64(b.Index)*wire.FileHashLen); err != nil {
		return err
	}
	r.have[b.Index/64] |= 1 << (b.Index % 64)
	r.haveCount++
	r.stats.Written++
	if r.unsaved++; r.unsaved >= checkpointBlocks {
		return r.Checkpoint()
	}
	return nil
}

// verify checks b against the offer's root and returns its leaf hash.
func (r *Receiver) verify(b wire.FileBlockMessage) (Hash, error) {
	if b.Index >= r.n {
		return Hash{}, fmt.Errorf("no such block: the file has %d", r.n)
	}
	if want := r.blockLen(b.Index); len(b.Data) != want {
		return Hash{}, fmt.Errorf("%d bytes where %d belong", len(b.Data), want)
	}
	leaf := leafHash(b.Data)
	if err := verifyProof(r.offer.Root, r.n, b.Index, leaf, b.Proof); err != nil {
		return Hash{}, errors.New("its content does not hash to the offered root")
	}
	return leaf, nil
}

func (r *Receiver) blockLen(i uint64) int {
	size := uint64(1) << r.offer.BlockShift
	return int(min(size, r.offer.Size-i*size))
}

// Checkpoint makes what has arrived survive a crash: the content and leaf
// hashes synced, then the have-bitmap replaced whole (safefile.Replace), so
// the bitmap never claims a block the disk may not hold.
func (r *Receiver) Checkpoint() error {
	if r.Done() || r.part == nil {
		return nil
	}
	if err := r.part.Sync(); err != nil {
		return err
	}
	if err := r.leaves.Sync(); err != nil {
		return err
	}
	st := state{
		ID:         hex.EncodeToString(r.offer.ID[:]),
		Root:       hex.EncodeToString(r.offer.Root[:]),
		Size:       r.offer.Size,
		BlockShift: r.offer.BlockShift,
		Offered:    r.offer.Name,
		Name:       r.name,
		Have:       make([]byte, 0, 8*len(r.have)),
	}
	for _, w := range r.have {
		st.Have = binary.LittleEndian.AppendUint64(st.Have, w)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := safefile.Replace(r.file(".state"), raw, 0o600); err != nil {
		return err
	}
	r.unsaved = 0
	return nil
}

// Finish verifies the whole file on disk and puts it in place, under its
// name or the first "name (k).ext" free, never over another file; the
// transfer's files are removed. If blocks on disk are not what arrived, they
// are missing again, Finish fails with ErrRefetch, and the caller asks for
// Missing again. It returns where the file is.
func (r *Receiver) Finish() (string, error) {
	if r.Done() {
		return r.path, nil
	}
	if r.failed != nil {
		return "", r.failed
	}
	if r.haveCount < r.n {
		return "", fmt.Errorf("%w: %d of %d blocks", ErrIncomplete, r.haveCount, r.n)
	}
	bad, err := r.damaged()
	if err != nil {
		return "", err
	}
	if len(bad) > 0 {
		for _, i := range bad {
			r.have[i/64] &^= 1 << (i % 64)
		}
		r.haveCount -= uint64(len(bad))
		if err := r.Checkpoint(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("%w: %d of %q's blocks (first %d)", ErrRefetch, len(bad), r.offer.Name, bad[0])
	}
	if err := r.part.Sync(); err != nil {
		return "", err
	}
	p, err := r.place()
	if err != nil {
		return "", err
	}
	r.path = p
	r.close()
	r.removeFiles()
	return p, nil
}

// damaged reads the content back, block by block, and lists the blocks
// whose hash is not the one recorded when they arrived verified. It also
// checks that the blocks as they are hash to the root; they cannot fail
// that unless both a block and its recorded hash changed alike.
func (r *Receiver) damaged() ([]uint64, error) {
	var bad []uint64
	computed := make([]Hash, r.n)
	batch := make([][]byte, min(r.n, hashBatch))
	for i := range batch {
		batch[i] = make([]byte, 1<<r.offer.BlockShift)
	}
	recorded := make([]byte, len(batch)*wire.FileHashLen)
	for first := uint64(0); first < r.n; {
		k := min(r.n-first, hashBatch)
		for j := range k {
			i := first + j
			batch[j] = batch[j][:r.blockLen(i)]
			if err := readFull(r.part, batch[j], int64(i)<<r.offer.BlockShift); err != nil {
				return nil, err
			}
		}
		if err := readFull(r.leaves, recorded[:k*wire.FileHashLen], int64(first)*wire.FileHashLen); err != nil {
			return nil, err
		}
		leafHashes(batch[:k], computed[first:first+k])
		for j := range k {
			if !bytes.Equal(computed[first+j][:], recorded[j*wire.FileHashLen:(j+1)*wire.FileHashLen]) {
				bad = append(bad, first+j)
			}
		}
		first += k
	}
	if len(bad) == 0 && rootOf(computed) != r.offer.Root {
		r.failed = fmt.Errorf("%w: %q as written does not hash to the offered root", ErrBadBlock, r.offer.Name)
		return nil, r.failed
	}
	return bad, nil
}

// readFull reads len(b) bytes of f at off; what a file cut short lacks
// reads as zeros, which no block's hash matches.
func readFull(f *os.File, b []byte, off int64) error {
	n, err := f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		clear(b[n:])
		err = nil
	}
	return err
}

// place puts the finished content into the dir under the first free name:
// a hard link (or, where the file system has none, a rename) that never
// replaces what is there, so a file that appeared meanwhile stays. A name
// already linked to the content (by a Finish cut short by a crash) is where
// it is.
func (r *Receiver) place() (string, error) {
	info, err := r.part.Stat()
	if err != nil {
		return "", err
	}
	for k := range maxCopies {
		p := filepath.Join(r.dir, numbered(r.name, k))
		err := os.Link(r.part.Name(), p)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			if rerr := renameNoReplace(r.part.Name(), p); rerr == nil || errors.Is(rerr, fs.ErrExist) {
				err = rerr
			}
		}
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		if there, err := os.Lstat(p); err == nil && os.SameFile(there, info) {
			return p, nil
		}
	}
	return "", fmt.Errorf("files: %s and %d numbered names beside it are all taken", r.name, maxCopies-1)
}

// findSame looks for the offered content in dir under the offered name or
// a numbered one: a file of the same size whose tree has the same root.
func (r *Receiver) findSame() (string, error) {
	for k := range maxCopies {
		p := filepath.Join(r.dir, numbered(r.name, k))
		info, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if !info.Mode().IsRegular() || uint64(info.Size()) != r.offer.Size {
			continue
		}
		if same, err := r.hasContent(p); err != nil || same {
			return p, err
		}
	}
	return "", nil
}

func (r *Receiver) hasContent(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	leaves, err := hashLeaves(f, int64(r.offer.Size), r.offer.BlockShift, nil)
	if errors.Is(err, ErrSourceChanged) { // shorter than it said: not it
		return false, nil
	}
	return err == nil && rootOf(leaves) == r.offer.Root, err
}

// Close saves what has arrived (Checkpoint) and closes the transfer's
// files, which stay for Resume.
func (r *Receiver) Close() error {
	err := r.Checkpoint()
	r.close()
	return err
}

func (r *Receiver) close() {
	if r.part != nil {
		r.part.Close()
		r.leaves.Close()
		r.part, r.leaves = nil, nil
	}
}

// Abort gives the transfer up: its files are removed. A file already in
// place stays.
func (r *Receiver) Abort() {
	r.close()
	if !r.Done() {
		r.removeFiles()
	}
}

func (r *Receiver) removeFiles() {
	for _, s := range []string{".state", ".leaves", ".part"} {
		os.Remove(r.file(s))
	}
}
