package audit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Spool is a write-ahead log of sealed events: append-only segment files of
// framed records, fsynced per batch, deleted once the sink confirmed them.
//
// Record frame: magic "WRD1" | payload length (uint32 LE) | CRC32C of the
// payload (uint32 LE) | payload. The magic lets a reader resynchronise after a
// corrupt record: it is skipped and counted, and the rest replays.
//
// One goroutine appends (the writer's batcher) and one reads and acks (the
// shipper); both may run concurrently.
type Spool struct {
	dir      string
	segBytes int64
	maxBytes int64
	log      *slog.Logger

	mu       sync.Mutex
	segs     []segment // ascending ids; the last one is active
	active   *os.File
	ack      Pos
	ackFile  *os.File
	readFile *os.File
	readID   uint64

	corrupt atomic.Uint64
	unsent  atomic.Int64
}

type segment struct {
	id   uint64
	size int64 // bytes durable (fsynced) in the file
}

// Pos is a position in the spool: segment id and byte offset.
type Pos struct {
	Seg uint64
	Off int64
}

// Less orders positions.
func (p Pos) Less(q Pos) bool { return p.Seg < q.Seg || (p.Seg == q.Seg && p.Off < q.Off) }

const (
	frameHeader   = 12
	maxRecordSize = 64 << 20
	segPrefix     = "seg-"
	segSuffix     = ".wal"
	ackName       = "ack"
)

var (
	frameMagic = [4]byte{'W', 'R', 'D', '1'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// ErrSpoolFull is returned when the spool holds SpoolMaxBytes of unsent
// events. The route profile decides: fail closed (deny) or fail open (count).
var ErrSpoolFull = errors.New("audit: spool full")

// AppendFrame appends payload as one spool record to buf.
func AppendFrame(buf, payload []byte) []byte {
	buf = append(buf, frameMagic[:]...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(payload, castagnoli))
	return append(buf, payload...)
}

// parseFrame returns the payload at buf[0:] and the frame length, or ok=false
// when buf does not start with a complete valid frame.
func parseFrame(buf []byte) (payload []byte, n int, ok bool) {
	if len(buf) < frameHeader || [4]byte(buf[:4]) != frameMagic {
		return nil, 0, false
	}
	l := int(binary.LittleEndian.Uint32(buf[4:8]))
	if l > maxRecordSize || len(buf)-frameHeader < l {
		return nil, 0, false
	}
	p := buf[frameHeader : frameHeader+l]
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(buf[8:12]) {
		return nil, 0, false
	}
	return p, frameHeader + l, true
}

// frameLen reports the length a frame at buf claims, if the header is sane.
func frameLen(buf []byte) (int, bool) {
	if len(buf) < frameHeader || [4]byte(buf[:4]) != frameMagic {
		return 0, false
	}
	l := int(binary.LittleEndian.Uint32(buf[4:8]))
	if l > maxRecordSize {
		return 0, false
	}
	return frameHeader + l, true
}

// resync finds the next valid frame in buf after a corrupt one.
func resync(buf []byte) int {
	for i := 1; i+frameHeader <= len(buf); i++ {
		j := bytes.Index(buf[i:], frameMagic[:])
		if j < 0 {
			return -1
		}
		i += j
		if _, _, ok := parseFrame(buf[i:]); ok {
			return i
		}
	}
	return -1
}

// SpoolOptions sizes a spool.
type SpoolOptions struct {
	SegmentBytes int64 // rotate segments above this size
	MaxBytes     int64 // unsent bytes above which Append returns ErrSpoolFull
	Logger       *slog.Logger
}

// OpenSpool opens or creates the spool in dir. A torn record at the end of
// the newest segment (crash during a write that was never acknowledged) is
// truncated away. It returns the payload of the last valid record, if any,
// so the writer can continue its hash chain.
func OpenSpool(dir string, opt SpoolOptions) (*Spool, []byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("audit spool: %w", err)
	}
	s := &Spool{dir: dir, segBytes: opt.SegmentBytes, maxBytes: opt.MaxBytes, log: opt.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("audit spool: %w", err)
	}
	for _, de := range entries {
		name := de.Name()
		if !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 64)
		if err != nil {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return nil, nil, fmt.Errorf("audit spool: %w", err)
		}
		s.segs = append(s.segs, segment{id: id, size: info.Size()})
	}
	slices.SortFunc(s.segs, func(a, b segment) int {
		if a.id < b.id {
			return -1
		}
		return 1
	})

	// Find the last valid record, truncating a torn tail of the newest segment.
	var last []byte
	for i := len(s.segs) - 1; i >= 0 && last == nil; i-- {
		data, err := os.ReadFile(s.segPath(s.segs[i].id))
		if err != nil {
			return nil, nil, fmt.Errorf("audit spool: %w", err)
		}
		end := 0
		for off := 0; off < len(data); {
			p, n, ok := parseFrame(data[off:])
			if !ok {
				k := resync(data[off:])
				if k < 0 {
					break
				}
				off += k
				continue
			}
			last = p
			off += n
			end = off
		}
		if i == len(s.segs)-1 && int64(end) < s.segs[i].size {
			s.log.Warn("audit spool: truncating torn tail", "segment", s.segPath(s.segs[i].id), "from", end, "size", s.segs[i].size)
			if err := os.Truncate(s.segPath(s.segs[i].id), int64(end)); err != nil {
				return nil, nil, fmt.Errorf("audit spool: %w", err)
			}
			s.segs[i].size = int64(end)
		}
	}
	if last != nil {
		last = slices.Clone(last)
	}

	s.ackFile, err = os.OpenFile(filepath.Join(dir, ackName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("audit spool: %w", err)
	}
	var ab [20]byte
	if n, _ := s.ackFile.ReadAt(ab[:], 0); n == len(ab) &&
		crc32.Checksum(ab[:16], castagnoli) == binary.LittleEndian.Uint32(ab[16:]) {
		s.ack = Pos{Seg: binary.LittleEndian.Uint64(ab[:8]), Off: int64(binary.LittleEndian.Uint64(ab[8:16]))}
	}
	if len(s.segs) == 0 {
		if err := s.rotateLocked(); err != nil {
			return nil, nil, err
		}
	} else {
		f, err := os.OpenFile(s.segPath(s.segs[len(s.segs)-1].id), os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("audit spool: %w", err)
		}
		s.active = f
	}
	if s.ack.Less(Pos{Seg: s.segs[0].id}) {
		s.ack = Pos{Seg: s.segs[0].id}
	}
	s.updateUnsentLocked()
	return s, last, nil
}

func (s *Spool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s%020d%s", segPrefix, id, segSuffix))
}

func (s *Spool) rotateLocked() error {
	id := uint64(1)
	if len(s.segs) > 0 {
		id = s.segs[len(s.segs)-1].id + 1
	}
	f, err := os.OpenFile(s.segPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	if s.active != nil {
		s.active.Close()
	}
	s.active = f
	s.segs = append(s.segs, segment{id: id})
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit spool: sync dir: %w", err)
	}
	return nil
}

// Append writes frames (built with AppendFrame) and fsyncs them. It returns
// the positions before and after the batch.
func (s *Spool) Append(frames []byte) (start, end Pos, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active == nil {
		return start, end, errors.New("audit spool: closed")
	}
	if s.maxBytes > 0 && s.unsent.Load()+int64(len(frames)) > s.maxBytes {
		return start, end, ErrSpoolFull
	}
	cur := &s.segs[len(s.segs)-1]
	if cur.size > 0 && cur.size+int64(len(frames)) > s.segBytes {
		if err := s.rotateLocked(); err != nil {
			return start, end, err
		}
		cur = &s.segs[len(s.segs)-1]
	}
	start = Pos{Seg: cur.id, Off: cur.size}
	if _, err := s.active.Write(frames); err != nil {
		// Cut off whatever part of the batch reached the file.
		_ = s.active.Truncate(cur.size)
		return start, end, fmt.Errorf("audit spool: write: %w", err)
	}
	if err := s.active.Sync(); err != nil {
		// The data may or may not be on disk: drop it so positions stay exact.
		_ = s.active.Truncate(cur.size)
		return start, end, fmt.Errorf("audit spool: fsync: %w", err)
	}
	cur.size += int64(len(frames))
	s.updateUnsentLocked()
	return start, Pos{Seg: cur.id, Off: cur.size}, nil
}

func (s *Spool) updateUnsentLocked() {
	var n int64
	for _, sg := range s.segs {
		if sg.id >= s.ack.Seg {
			n += sg.size
		}
	}
	if len(s.segs) > 0 && s.ack.Seg >= s.segs[0].id {
		n -= s.ack.Off
	}
	s.unsent.Store(max(n, 0))
}

// normLocked moves p past the end of a finished segment to the next one.
func (s *Spool) normLocked(p Pos) Pos {
	for i, sg := range s.segs {
		if sg.id < p.Seg {
			continue
		}
		if sg.id > p.Seg {
			return Pos{Seg: sg.id}
		}
		if p.Off >= sg.size && i < len(s.segs)-1 {
			p = Pos{Seg: s.segs[i+1].id}
			continue
		}
		return p
	}
	return p
}

// Norm returns p, moved past the end of finished segments.
func (s *Spool) Norm(p Pos) Pos {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.normLocked(p)
}

// End is the position after the last durable record.
func (s *Spool) End() Pos {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.segs[len(s.segs)-1]
	return Pos{Seg: sg.id, Off: sg.size}
}

// AckPos is where the last run left off: the first record not confirmed.
func (s *Spool) AckPos() Pos {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ack
}

// Read returns up to maxRecords payloads (about maxBytes) starting at p and
// the position after them. Corrupt records are skipped, counted and logged.
// Payloads alias an internal buffer valid until the next Read.
func (s *Spool) Read(p Pos, maxRecords int, maxBytes int, buf []byte) (recs [][]byte, next Pos, _ []byte, err error) {
	s.mu.Lock()
	p = s.normLocked(p)
	var size int64 = -1
	for _, sg := range s.segs {
		if sg.id == p.Seg {
			size = sg.size
		}
	}
	s.mu.Unlock()
	if size < 0 || p.Off >= size {
		return nil, p, buf, nil
	}
	if s.readFile == nil || s.readID != p.Seg {
		if s.readFile != nil {
			s.readFile.Close()
		}
		f, err := os.Open(s.segPath(p.Seg))
		if err != nil {
			return nil, p, buf, fmt.Errorf("audit spool: %w", err)
		}
		s.readFile, s.readID = f, p.Seg
	}
	want := min(int64(maxBytes), size-p.Off)
	buf, err = readAt(s.readFile, buf, p.Off, want)
	if err != nil {
		return nil, p, buf, err
	}
	if n, ok := frameLen(buf); ok && int64(n) > want && p.Off+int64(n) <= size {
		// One record larger than maxBytes: read it whole.
		if buf, err = readAt(s.readFile, buf, p.Off, int64(n)); err != nil {
			return nil, p, buf, err
		}
	}
	off := 0
	for off < len(buf) && len(recs) < maxRecords {
		payload, n, ok := parseFrame(buf[off:])
		if ok {
			recs = append(recs, payload)
			off += n
			continue
		}
		if n, sane := frameLen(buf[off:]); sane && off+n > len(buf) && p.Off+int64(off+n) <= size && len(recs) > 0 {
			break // complete record beyond this chunk; next Read starts there
		}
		// Corrupt: resynchronise on the rest of the segment.
		rest, err := readAt(s.readFile, nil, p.Off+int64(off), size-p.Off-int64(off))
		if err != nil {
			return nil, p, buf, err
		}
		k := resync(rest)
		s.corrupt.Add(1)
		skipped := int64(k)
		if k < 0 {
			skipped = int64(len(rest))
		}
		s.log.Error("audit spool: corrupt record skipped", "segment", s.segPath(p.Seg), "offset", p.Off+int64(off), "skipped_bytes", skipped)
		return recs, Pos{Seg: p.Seg, Off: p.Off + int64(off) + skipped}, buf, nil
	}
	return recs, Pos{Seg: p.Seg, Off: p.Off + int64(off)}, buf, nil
}

func readAt(f *os.File, buf []byte, off, n int64) ([]byte, error) {
	buf = slices.Grow(buf[:0], int(n))[:n]
	m, err := f.ReadAt(buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && int64(m) == n) {
		return buf[:0], fmt.Errorf("audit spool: read: %w", err)
	}
	return buf, nil
}

// Ack records that everything before p reached the sink and deletes
// segments that are entirely confirmed. The ack position is not fsynced: after
// a crash a few confirmed events replay, and the sink deduplicates them.
func (s *Spool) Ack(p Pos) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p = s.normLocked(p)
	s.ack = p
	var errs []error
	for len(s.segs) > 1 && s.segs[0].id < p.Seg {
		if s.readFile != nil && s.readID == s.segs[0].id {
			s.readFile.Close()
			s.readFile = nil
		}
		if err := os.Remove(s.segPath(s.segs[0].id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		s.segs = s.segs[1:]
	}
	var ab [20]byte
	binary.LittleEndian.PutUint64(ab[:8], p.Seg)
	binary.LittleEndian.PutUint64(ab[8:16], uint64(p.Off))
	binary.LittleEndian.PutUint32(ab[16:], crc32.Checksum(ab[:16], castagnoli))
	if _, err := s.ackFile.WriteAt(ab[:], 0); err != nil {
		errs = append(errs, err)
	}
	s.updateUnsentLocked()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audit spool: ack: %w", err)
	}
	return nil
}

// UnsentBytes is the size of records not yet confirmed by the sink.
func (s *Spool) UnsentBytes() int64 { return s.unsent.Load() }

// Segments is the number of segment files.
func (s *Spool) Segments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs)
}

// Corrupt is the number of corrupt records skipped so far.
func (s *Spool) Corrupt() uint64 { return s.corrupt.Load() }

// Close closes the files; unsent records stay for the next OpenSpool.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.active != nil {
		errs = append(errs, s.active.Close())
		s.active = nil
	}
	if s.readFile != nil {
		errs = append(errs, s.readFile.Close())
		s.readFile = nil
	}
	if s.ackFile != nil {
		errs = append(errs, s.ackFile.Sync(), s.ackFile.Close())
		s.ackFile = nil
	}
	return errors.Join(errs...)
}
