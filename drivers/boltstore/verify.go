package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"time"
)

// ErrCorrupt means the store file is damaged: cut short, overwritten or
// with flipped bits, so that it cannot be read safely or a record in it
// does not decode. Retrying does not help; restore the file from a backup
// (or, for a file that never held data, remove it).
var ErrCorrupt = errors.New("boltstore: file is damaged")

// The bbolt file format (go.etcd.io/bbolt v1.4, internal/common): pages of
// the size recorded in the meta pages, each starting with a 16-byte
// header (id uint64, flags uint16, count uint16, overflow uint32), in the
// machine's byte order. Pages 0 and 1 are meta pages; the one with the
// higher transaction id that passes its checksum is the current one.
const (
	pageHeaderSize = 16
	elementSize    = 16 // branchPageElement and leafPageElement
	bucketHeader   = 16 // InBucket: root pgid, sequence

	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	metaPageFlag     = 0x04
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01

	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	metaOffset     = pageHeaderSize
	metaSumLen     = 56 // the meta fields before the checksum
	minPageSize    = 1024
	maxPageSize    = 1 << 16
	maxBucketDepth = 64 // nested buckets (this store uses 2) and tree height
)

var ne = binary.NativeEndian

type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high-water mark: pages [0, pgid) are in use or free
	txid     uint64
}

// parseMeta reads the meta page in buf (at least metaOffset+64 bytes)
// and says why it is not valid, as bbolt's Meta.Validate does.
func parseMeta(buf []byte) (meta, error) {
	if len(buf) < metaOffset+64 {
		return meta{}, errors.New("cut short")
	}
	m := buf[metaOffset:]
	switch {
	case ne.Uint32(m[0:]) != boltMagic:
		return meta{}, errors.New("no bbolt magic number")
	case ne.Uint32(m[4:]) != boltVersion:
		return meta{}, fmt.Errorf("format version %d, want %d", ne.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:metaSumLen])
	if h.Sum64() != ne.Uint64(m[metaSumLen:]) {
		return meta{}, errors.New("checksum mismatch")
	}
	return meta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, nil
}

// fileVerifier walks a closed (or write-locked) bbolt file through
// os.File.ReadAt, never through a memory map, so that a file cut short or
// pointing outside itself is an error, not a SIGBUS, and every page
// reference is checked before it is followed: bbolt itself trusts them
// (an assertion panic, a fault or an endless descent otherwise).
// visitFunc is called for every key of every bucket, in key order, with
// the names of the buckets it is in (the root's keys have none); bucket
// says the key names a nested bucket (whose keys follow at once). The
// slices are valid only during the call.
type visitFunc func(path [][]byte, key, value []byte, bucket bool) error

type fileVerifier struct {
	read     func(off, n int64) ([]byte, error) // bytes [off, off+n) of the file
	visit    visitFunc
	path     [][]byte
	size     int64
	m        meta
	pageSize int64
	seen     []uint64 // bitset of pages reachable or free
	free     int      // pages in the freelist
}

// verifyFile checks that the bbolt file f of size bytes is whole and
// consistent: a valid meta page whose high-water mark the file reaches, a
// freelist and a tree of buckets whose pages are all inside the file,
// well formed, used once and in key order, and every page below the
// high-water mark either used or free. Every error wraps ErrCorrupt
// (except I/O errors) and says what is wrong where.
//
// It reads the file through its own read-only memory map where the
// system has one, touching only bytes it has checked are inside the file;
// should the file shrink meanwhile (another program cutting it short), the
// fault is recovered into an error, not a crash.
func verifyFile(f *os.File, size int64, visit visitFunc) (err error) {
	if size == 0 {
		return fmt.Errorf("the file is empty (0 bytes), but a store file always holds its meta pages: it was cut short; remove it only if it never held data: %w", ErrCorrupt)
	}
	read, release, err := fileReader(f, size)
	if err != nil {
		return err
	}
	defer release()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the file failed (%v): did it change meanwhile? %w", r, ErrCorrupt)
		}
	}()
	return verifyPages(read, size, visit)
}

// readAt reads through f.ReadAt into a new buffer.
func readAt(f io.ReaderAt) func(off, n int64) ([]byte, error) {
	return func(off, n int64) ([]byte, error) {
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
}

func verifyPages(read func(off, n int64) ([]byte, error), size int64, visit visitFunc) error {
	first, err := read(0, min(size, 0x1000))
	if err != nil {
		return fmt.Errorf("read the first meta page: %w", err)
	}
	// The page size is the first meta page's, or, if it is damaged, that
	// of a valid second meta page found where bbolt looks for one.
	m0, err0 := parseMeta(first)
	pageSize := int64(m0.pageSize)
	if err0 != nil {
		pageSize = 0
		for i := 0; i <= 6; i++ {
			pos := int64(minPageSize) << i
			if pos+metaOffset+64 > size {
				break
			}
			buf, err := read(pos, metaOffset+64)
			if err != nil {
				return fmt.Errorf("read the second meta page: %w", err)
			}
			if m, err := parseMeta(buf); err == nil && int64(m.pageSize) == pos {
				pageSize = pos
				break
			}
		}
		if pageSize == 0 {
			return fmt.Errorf("meta page 0 is invalid (%v) and no valid meta page 1 was found: not a bbolt file, or its first pages are damaged: %w", err0, ErrCorrupt)
		}
	}
	if pageSize < minPageSize || pageSize > maxPageSize || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("page size %d: %w", pageSize, ErrCorrupt)
	}
	if size < 2*pageSize {
		return fmt.Errorf("the file has %d bytes, less than its two %d-byte meta pages: cut short: %w", size, pageSize, ErrCorrupt)
	}
	var metas [2]meta
	var errs [2]error
	for i := range 2 {
		buf, err := read(int64(i)*pageSize, metaOffset+64)
		if err != nil {
			return fmt.Errorf("read meta page %d: %w", i, err)
		}
		metas[i], errs[i] = parseMeta(buf)
		if errs[i] == nil && int64(metas[i].pageSize) != pageSize {
			errs[i] = fmt.Errorf("page size %d, the file's is %d", metas[i].pageSize, pageSize)
		}
	}
	// bbolt uses the valid meta page with the higher transaction id.
	cur := 0
	switch {
	case errs[0] != nil && errs[1] != nil:
		return fmt.Errorf("both meta pages are invalid (page 0: %v; page 1: %v): %w", errs[0], errs[1], ErrCorrupt)
	case errs[0] != nil:
		cur = 1
	case errs[1] == nil && metas[1].txid > metas[0].txid:
		cur = 1
	}
	v := &fileVerifier{read: read, visit: visit, size: size, m: metas[cur], pageSize: pageSize}
	return v.verify(cur)
}

func (v *fileVerifier) corrupt(format string, args ...any) error {
	return fmt.Errorf("transaction %d: %s: %w", v.m.txid, fmt.Sprintf(format, args...), ErrCorrupt)
}

func (v *fileVerifier) verify(cur int) error {
	m := v.m
	if m.pgid < 4 {
		return v.corrupt("high-water mark %d is below the 4 pages of an empty file (meta page %d)", m.pgid, cur)
	}
	if need := int64(m.pgid) * v.pageSize; need/v.pageSize != int64(m.pgid) || need > v.size {
		return v.corrupt("the file has %d bytes, but its last commit (meta page %d) uses %d pages of %d bytes (%d bytes): cut short", v.size, cur, m.pgid, v.pageSize, int64(m.pgid)*v.pageSize)
	}
	if m.freelist == noFreelist {
		return v.corrupt("written without a freelist (NoFreelistSync), which this store never does")
	}
	v.seen = make([]uint64, (m.pgid+63)/64)
	v.mark(0)
	v.mark(1)
	if err := v.freelist(); err != nil {
		return err
	}
	if err := v.bucket(m.root, nil, "the root bucket", 0); err != nil {
		return err
	}
	for id := uint64(2); id < m.pgid; id++ {
		if !v.marked(id) {
			return v.corrupt("page %d is neither used nor free", id)
		}
	}
	return nil
}

func (v *fileVerifier) mark(id uint64)        { v.seen[id/64] |= 1 << (id % 64) }
func (v *fileVerifier) marked(id uint64) bool { return v.seen[id/64]&(1<<(id%64)) != 0 }

// page reads page id with its overflow pages, after checking that they
// are inside the high-water mark, that its header names it and has one
// of want's flags, and that none of them was reached before.
func (v *fileVerifier) page(id uint64, want uint16, what string) ([]byte, error) {
	if id < 2 || id >= v.m.pgid {
		return nil, v.corrupt("%s: page %d is outside the pages in use [2, %d)", what, id, v.m.pgid)
	}
	head, err := v.read(int64(id)*v.pageSize, v.pageSize)
	if err != nil {
		return nil, fmt.Errorf("%s: read page %d: %w", what, id, err)
	}
	overflow := uint64(ne.Uint32(head[12:]))
	switch {
	case ne.Uint64(head) != id:
		return nil, v.corrupt("%s: page %d's header says it is page %d", what, id, ne.Uint64(head))
	case ne.Uint16(head[8:])&want == 0 || ne.Uint16(head[8:])&^(branchPageFlag|leafPageFlag|freelistPageFlag) != 0:
		return nil, v.corrupt("%s: page %d has flags %#x", what, id, ne.Uint16(head[8:]))
	case overflow >= v.m.pgid-id:
		return nil, v.corrupt("%s: page %d has %d overflow pages, beyond the pages in use", what, id, overflow)
	}
	for p := id; p <= id+overflow; p++ {
		if v.marked(p) {
			return nil, v.corrupt("%s: page %d is used twice (or is also free)", what, p)
		}
		v.mark(p)
	}
	if overflow == 0 {
		return head, nil
	}
	buf, err := v.read(int64(id)*v.pageSize, int64(overflow+1)*v.pageSize)
	if err != nil {
		return nil, fmt.Errorf("%s: read page %d: %w", what, id, err)
	}
	return buf, nil
}

func (v *fileVerifier) freelist() error {
	p, err := v.page(v.m.freelist, freelistPageFlag, "the freelist")
	if err != nil {
		return err
	}
	if ne.Uint16(p[8:]) != freelistPageFlag {
		return v.corrupt("the freelist: page %d is not a freelist page", v.m.freelist)
	}
	start, count := uint64(pageHeaderSize), uint64(ne.Uint16(p[10:]))
	if count == 0xFFFF {
		count, start = ne.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if count > (uint64(len(p))-start)/8 {
		return v.corrupt("the freelist: %d ids do not fit in its %d bytes", count, len(p))
	}
	for i := range count {
		id := ne.Uint64(p[start+8*i:])
		if id < 2 || id >= v.m.pgid {
			return v.corrupt("the freelist: free page %d is outside the pages in use [2, %d)", id, v.m.pgid)
		}
		if v.marked(id) {
			return v.corrupt("the freelist: page %d is free twice, or free and used", id)
		}
		v.mark(id)
		v.free++
	}
	return nil
}

// bucket checks the tree of the bucket whose root is page root, or, for
// an inline bucket (root 0), the page inline.
func (v *fileVerifier) bucket(root uint64, inline []byte, what string, depth int) error {
	if depth > maxBucketDepth {
		return v.corrupt("%s: buckets nested deeper than %d", what, maxBucketDepth)
	}
	if root == 0 {
		if len(inline) < pageHeaderSize || ne.Uint16(inline[8:]) != leafPageFlag {
			return v.corrupt("%s: inline bucket without a leaf page", what)
		}
		return v.elements(inline, leafPageFlag, what, 0, depth)
	}
	return v.node(root, what, depth, 0)
}

// node checks page id of a bucket's B+tree and the subtrees below it.
func (v *fileVerifier) node(id uint64, what string, depth, height int) error {
	if height > maxBucketDepth {
		return v.corrupt("%s: tree deeper than %d at page %d", what, maxBucketDepth, id)
	}
	p, err := v.page(id, branchPageFlag|leafPageFlag, what)
	if err != nil {
		return err
	}
	flags := ne.Uint16(p[8:])
	if flags != branchPageFlag && flags != leafPageFlag {
		return v.corrupt("%s: page %d has flags %#x", what, id, flags)
	}
	if err := v.elements(p, flags, what, id, depth); err != nil {
		return err
	}
	if flags == leafPageFlag {
		return nil
	}
	for i := range uint64(ne.Uint16(p[10:])) {
		child := ne.Uint64(p[pageHeaderSize+i*elementSize+8:])
		if err := v.node(child, what, depth, height+1); err != nil {
			return err
		}
	}
	return nil
}

// elements checks the elements of a branch or leaf page p (page id, or 0
// for an inline bucket): inside the page, keys in ascending order, and,
// for a leaf, its nested buckets.
func (v *fileVerifier) elements(p []byte, flags uint16, bucket string, id uint64, depth int) error {
	where := func() string {
		if id == 0 {
			return bucket + " (inline)"
		}
		return fmt.Sprintf("%s, page %d", bucket, id)
	}
	count := uint64(ne.Uint16(p[10:]))
	if flags == branchPageFlag && count == 0 {
		return v.corrupt("%s: branch page without elements", where())
	}
	size := uint64(len(p))
	if pageHeaderSize+count*elementSize > size {
		return v.corrupt("%s: %d elements do not fit", where(), count)
	}
	var prev []byte
	for i := range count {
		off := pageHeaderSize + i*elementSize
		e := p[off : off+elementSize]
		var pos, ksize, vsize uint64
		if flags == branchPageFlag {
			pos, ksize = uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:]))
		} else {
			pos, ksize, vsize = uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		}
		if off+pos+ksize+vsize > size {
			return v.corrupt("%s: element %d lies outside the page", where(), i)
		}
		key := p[off+pos : off+pos+ksize]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return v.corrupt("%s: keys out of order at element %d", where(), i)
		}
		prev = key
		if flags != leafPageFlag {
			continue
		}
		val := p[off+pos+ksize : off+pos+ksize+vsize]
		isBucket := ne.Uint32(e[0:])&bucketLeafFlag != 0
		if isBucket && len(val) < bucketHeader {
			return v.corrupt("%s: bucket %q has no header", where(), key)
		}
		if v.visit != nil {
			if err := v.visit(v.path, key, val, isBucket); err != nil {
				return v.corrupt("%s: %v", where(), err)
			}
		}
		if isBucket {
			v.path = append(v.path, key)
			err := v.bucket(ne.Uint64(val), val[bucketHeader:], bucketName(key), depth+1)
			v.path = v.path[:len(v.path)-1]
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// bucketName names a nested bucket in messages: its key, quoted.
func bucketName(key []byte) string { return strconv.Quote(string(key)) }

// verifyPath opens path read-only, takes a shared lock on it (waiting up
// to timeout for a writer in another process to let go: ErrLocked), and
// verifies it, calling visit for every key.
func verifyPath(path string, timeout time.Duration, visit visitFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	unlock, err := lockShared(f, timeout)
	if err != nil {
		return err
	}
	defer unlock()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return verifyFile(f, fi.Size(), visit)
}
