package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Recorder is what the request pipeline needs from the audit trail.
type Recorder interface {
	// Record enqueues e without blocking. It fails with ErrQueueFull or
	// ErrSpoolFull (the route profile decides whether that denies the
	// request) or ErrClosed.
	Record(e *Event) error
	// RecordDurable returns once e is fsynced to the spool (strict mode).
	RecordDurable(ctx context.Context, e *Event) error
}

// Sink receives sealed events in chain order. Write must be all-or-nothing
// from the writer's point of view: on error the whole batch is retried, so a
// sink must tolerate duplicates (ClickHouse: ReplacingMergeTree on event id).
type Sink interface {
	Write(ctx context.Context, events []Event) error
	Close(ctx context.Context) error
}

// Errors returned by Record and RecordDurable.
var (
	ErrQueueFull = errors.New("audit: queue full")
	ErrClosed    = errors.New("audit: writer closed")
)

// Config configures a Writer. Zero values take the defaults below.
type Config struct {
	SpoolDir      string        // required; holds segments and the ack position
	Sink          Sink          // required; closed by Shutdown
	QueueSize     int           // events buffered in memory (default 8192)
	MaxBatch      int           // events per spool append (one fsync) (default 1024)
	SinkBatch     int           // max events per sink write when catching up (default 65536)
	FlushInterval time.Duration // flush a partial batch after this (default 100ms)
	SpoolMaxBytes int64         // unsent bytes before ErrSpoolFull (default 1 GiB)
	SegmentBytes  int64         // spool segment size (default 16 MiB)
	SinkTimeout   time.Duration // per sink write (default 10s)
	RetryMin      time.Duration // first retry delay after a sink error (default 100ms)
	RetryMax      time.Duration // retry delay cap (default 5s)
	Logger        *slog.Logger  // default slog.Default()
}

func (c *Config) setDefaults() {
	if c.QueueSize == 0 {
		c.QueueSize = 8192
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 1024
	}
	if c.SinkBatch == 0 {
		// ClickHouse pays a large fixed cost per insert (a new part per
		// table and view); on 18.16 65,536-row inserts take about twice the
		// rows per server CPU-second of 16,384-row ones (docs/audit.md).
		c.SinkBatch = max(65536, c.MaxBatch)
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.SpoolMaxBytes == 0 {
		c.SpoolMaxBytes = 1 << 30
	}
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 16 << 20
	}
	if c.SinkTimeout == 0 {
		c.SinkTimeout = 10 * time.Second
	}
	if c.RetryMin == 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every invalid field at once.
func (c *Config) Validate() error {
	var errs []error
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("audit.spool_dir: required"))
	}
	if c.Sink == nil {
		errs = append(errs, errors.New("audit.sink: required"))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("audit.queue_size: %d, must be > 0", c.QueueSize))
	}
	if c.MaxBatch < 1 || c.MaxBatch > c.QueueSize {
		errs = append(errs, fmt.Errorf("audit.max_batch: %d, must be in 1..queue_size", c.MaxBatch))
	}
	if c.SinkBatch < c.MaxBatch {
		errs = append(errs, fmt.Errorf("audit.sink_batch: %d, must be >= max_batch", c.SinkBatch))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"flush_interval", c.FlushInterval}, {"sink_timeout", c.SinkTimeout}, {"retry_min", c.RetryMin}, {"retry_max", c.RetryMax}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("audit.%s: %v, must be > 0", d.name, d.v))
		}
	}
	if c.SegmentBytes < 4096 {
		errs = append(errs, fmt.Errorf("audit.segment_bytes: %d, must be >= 4096", c.SegmentBytes))
	}
	if c.SpoolMaxBytes < c.SegmentBytes {
		errs = append(errs, fmt.Errorf("audit.spool_max_bytes: %d, must be >= segment_bytes", c.SpoolMaxBytes))
	}
	return errors.Join(errs...)
}

// Stats is a snapshot of the writer's health, exported as metrics.
type Stats struct {
	QueueDepth      int
	QueueCapacity   int
	SpoolBytes      int64         // bytes of spooled events not yet confirmed by the sink
	SpoolSegments   int           // segment files on disk
	OldestUnsentAge time.Duration // age of the oldest spooled, unconfirmed event
	Spooled         uint64        // events fsynced to the spool
	Sent            uint64        // events confirmed by the sink
	Replayed        uint64        // events shipped from spool files (sink was slow/down, or restart)
	DroppedQueue    uint64        // Record found the queue full
	DroppedSpool    uint64        // spool full or spool write failed
	CorruptRecords  uint64        // spool records skipped for a bad checksum
	SinkErrors      uint64        // failed sink writes (each retried)
}

type item struct {
	e    *Event
	done chan error // nil for Record
}

type shipBatch struct {
	events     []Event
	start, end Pos
}

// Writer is the Recorder: bounded queue → batcher (seal, spool, fsync) →
// shipper (sink, ack). Modelled on OpenTelemetry's batch span processor.
type Writer struct {
	cfg   Config
	log   *slog.Logger
	queue chan item
	spool *Spool
	chain Chain

	closing   atomic.Bool
	inflight  atomic.Int64
	spoolFull atomic.Bool

	handoff     chan shipBatch
	wake        chan struct{}
	stopBatch   chan struct{}
	batchDone   chan struct{}
	drain       chan struct{}
	shipDone    chan struct{}
	shipCtx     context.Context
	cancelShip  context.CancelFunc
	shutdownErr error         // set before closed is closed
	closed      chan struct{} // Shutdown finished

	head         atomic.Pointer[Head]
	oldestUnsent atomic.Int64 // unix ms of the oldest unconfirmed spooled event, 0 when none
	spooled      atomic.Uint64
	sent         atomic.Uint64
	replayed     atomic.Uint64
	dropQueue    atomic.Uint64
	dropSpool    atomic.Uint64
	sinkErrors   atomic.Uint64
}

var _ Recorder = (*Writer)(nil)

// New opens the spool, recovers the hash chain and starts the writer. Events
// left unconfirmed by a previous run are replayed to the sink first.
func New(cfg Config) (*Writer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sp, last, err := OpenSpool(cfg.SpoolDir, SpoolOptions{SegmentBytes: cfg.SegmentBytes, MaxBytes: cfg.SpoolMaxBytes, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	w := &Writer{
		cfg:   cfg,
		log:   cfg.Logger,
		queue: make(chan item, cfg.QueueSize),
		spool: sp,
		// Room for a whole SinkBatch of spooled batches (at most 256): when
		// the sink falls behind, the shipper merges them into one large
		// insert from memory instead of re-reading and decoding the spool.
		handoff:   make(chan shipBatch, min(max(4, cfg.SinkBatch/cfg.MaxBatch), 256)),
		wake:      make(chan struct{}, 1),
		stopBatch: make(chan struct{}),
		batchDone: make(chan struct{}),
		drain:     make(chan struct{}),
		shipDone:  make(chan struct{}),
		closed:    make(chan struct{}),
	}
	w.recoverChain(last)
	w.head.Store(&Head{WriterID: w.chain.WriterID, FirstSeq: 1, LastSeq: w.chain.Seq, Hash: w.chain.Last})
	w.shipCtx, w.cancelShip = context.WithCancel(context.Background())
	go w.runBatcher()
	go w.runShipper()
	return w, nil
}

// recoverChain continues the chain from the last spooled event (the active
// segment is never deleted, so it survives restarts), or starts a new chain
// with a new writer id when the spool is empty.
func (w *Writer) recoverChain(last []byte) {
	if last != nil {
		var e Event
		if err := DecodeEvent(last, &e); err == nil && e.WriterID != uuid.Nil {
			w.chain = Chain{WriterID: e.WriterID, Seq: e.Seq, Last: e.Hash}
			return
		}
		w.log.Error("audit: last spool record unreadable, starting a new chain")
	}
	w.chain = Chain{WriterID: uuid.Must(uuid.NewV7())}
}

// WriterID identifies this writer's hash chain.
func (w *Writer) WriterID() uuid.UUID { return w.head.Load().WriterID }

// ChainHead is the last spooled event's seq and hash. The chain hash is not
// keyed: someone who can rewrite the table can also recompute every later
// hash. Logging or exporting the head periodically (outside ClickHouse)
// anchors it; `ward audit verify` prints each writer's head to compare.
func (w *Writer) ChainHead() Head { return *w.head.Load() }

// SpoolFull reports whether Record currently refuses events with
// ErrSpoolFull (fail-closed profiles deny new requests meanwhile).
func (w *Writer) SpoolFull() bool { return w.spoolFull.Load() }

// Record enqueues e for the audit trail without blocking: a few tens of
// nanoseconds, no allocation.
func (w *Writer) Record(e *Event) error {
	w.inflight.Add(1)
	defer w.inflight.Add(-1)
	if w.closing.Load() {
		return ErrClosed
	}
	if w.spoolFull.Load() {
		w.dropSpool.Add(1)
		return ErrSpoolFull
	}
	select {
	case w.queue <- item{e: e}:
		return nil
	default:
		w.dropQueue.Add(1)
		return ErrQueueFull
	}
}

// RecordDurable enqueues e and waits until it is fsynced to the spool. Events
// recorded concurrently share one fsync.
func (w *Writer) RecordDurable(ctx context.Context, e *Event) error {
	done := make(chan error, 1)
	if err := w.enqueueWait(ctx, item{e: e, done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: waiting for spool: %w", ctx.Err())
	}
}

func (w *Writer) enqueueWait(ctx context.Context, it item) error {
	w.inflight.Add(1)
	defer w.inflight.Add(-1)
	if w.closing.Load() {
		return ErrClosed
	}
	if w.spoolFull.Load() {
		w.dropSpool.Add(1)
		return ErrSpoolFull
	}
	select {
	case w.queue <- it:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: enqueue: %w", ctx.Err())
	}
}

// Stats returns a snapshot for metrics.
func (w *Writer) Stats() Stats {
	s := Stats{
		QueueDepth:     len(w.queue),
		QueueCapacity:  cap(w.queue),
		SpoolBytes:     w.spool.UnsentBytes(),
		SpoolSegments:  w.spool.Segments(),
		Spooled:        w.spooled.Load(),
		Sent:           w.sent.Load(),
		Replayed:       w.replayed.Load(),
		DroppedQueue:   w.dropQueue.Load(),
		DroppedSpool:   w.dropSpool.Load(),
		CorruptRecords: w.spool.Corrupt(),
		SinkErrors:     w.sinkErrors.Load(),
	}
	if ms := w.oldestUnsent.Load(); ms > 0 {
		s.OldestUnsentAge = max(time.Since(time.UnixMilli(ms)), 0)
	}
	return s
}

// Shutdown stops accepting events, spools everything queued, and ships what
// it can until ctx ends; the rest stays in the spool for the next start. It
// closes the sink.
func (w *Writer) Shutdown(ctx context.Context) error {
	if !w.closing.CompareAndSwap(false, true) {
		select {
		case <-w.closed:
			return w.shutdownErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer close(w.closed)
	for w.inflight.Load() != 0 {
		runtime.Gosched()
	}
	close(w.stopBatch)
	<-w.batchDone // bounded: the queue is spooled, no network involved
	close(w.drain)
	select {
	case <-w.shipDone:
	case <-ctx.Done():
		w.cancelShip()
		<-w.shipDone
	}
	w.cancelShip()
	var errs []error
	if st := w.Stats(); st.SpoolBytes > 0 {
		w.log.Warn("audit: shutdown left unsent events in the spool", "bytes", st.SpoolBytes)
	}
	h := w.ChainHead()
	w.log.Info("audit: chain head", "writer_id", h.WriterID, "seq", h.LastSeq, "hash", h.Hash)
	if err := w.cfg.Sink.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("audit: close sink: %w", err))
	}
	if err := w.spool.Close(); err != nil {
		errs = append(errs, err)
	}
	w.shutdownErr = errors.Join(errs...)
	return w.shutdownErr
}

func (w *Writer) runBatcher() {
	defer close(w.batchDone)
	tick := time.NewTicker(w.cfg.FlushInterval)
	defer tick.Stop()
	b := &batcher{w: w, items: make([]item, 0, w.cfg.MaxBatch)}
	for {
		select {
		case it := <-w.queue:
			b.items = append(b.items, it)
			if it.done != nil {
				b.fill() // group commit: take what is already queued, then fsync
			}
			if it.done != nil || len(b.items) >= w.cfg.MaxBatch {
				b.flush()
			}
		case <-tick.C:
			b.flush()
		case <-w.stopBatch:
			for {
				b.fill()
				if len(b.items) == 0 {
					return
				}
				b.flush()
			}
		}
	}
}

type batcher struct {
	w      *Writer
	items  []item
	frames []byte
}

// fill takes queued items without waiting, up to a full batch.
func (b *batcher) fill() {
	for len(b.items) < b.w.cfg.MaxBatch {
		select {
		case it := <-b.w.queue:
			b.items = append(b.items, it)
		default:
			return
		}
	}
}

func (b *batcher) flush() {
	w := b.w
	if len(b.items) == 0 {
		return
	}
	saved := w.chain
	events := make([]Event, len(b.items))
	b.frames = b.frames[:0]
	for i, it := range b.items {
		w.chain.Seal(it.e)
		events[i] = *it.e
		b.frames = appendEventFrame(b.frames, it.e)
	}
	start, end, err := w.spool.Append(b.frames)
	if err != nil {
		w.chain = saved // dropped events leave no gap in the chain
		w.dropSpool.Add(uint64(len(b.items)))
		if errors.Is(err, ErrSpoolFull) {
			w.spoolFull.Store(true)
		}
		w.log.Error("audit: events dropped", "count", len(b.items), "err", err)
	} else {
		w.spooled.Add(uint64(len(b.items)))
		w.head.Store(&Head{WriterID: w.chain.WriterID, FirstSeq: 1, LastSeq: w.chain.Seq, Hash: w.chain.Last})
	}
	for i := range b.items {
		if b.items[i].done != nil {
			b.items[i].done <- err
		}
		b.items[i] = item{}
	}
	b.items = b.items[:0]
	if err != nil {
		return
	}
	select {
	case w.handoff <- shipBatch{events: events, start: start, end: end}:
	default: // shipper is behind; it reads these from the spool
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// sinkReadBytes caps one spool read when catching up: SinkBatch events of
// about 1 KiB, fewer when events carry long conversations.
const sinkReadBytes = 64 << 20

// runShipper delivers spooled events in order. When it keeps up it sends
// the batcher's in-memory batches; when it falls behind (slow sink, outage,
// restart) it reads the spool in larger batches (SinkBatch), which is also
// what a column store like ClickHouse ingests fastest.
func (w *Writer) runShipper() {
	defer close(w.shipDone)
	pos := w.spool.AckPos()
	var (
		pending  *shipBatch
		fromDisk bool
		backoff  = w.cfg.RetryMin
		buf      []byte
		draining bool
		// replaying: the spool holds events from before a restart or a
		// failed write; cleared once the shipper has caught up.
		replaying = pos.Less(w.spool.End())
	)
	for {
		if pending == nil {
			pos = w.spool.Norm(pos)
			pending = w.takeHandoff(pos)
			fromDisk = false
			if pending == nil && pos.Less(w.spool.End()) {
				evs, next, err := w.readSpool(pos, &buf)
				if err != nil {
					w.log.Error("audit: reading spool", "err", err)
					if !w.sleep(backoff) {
						return
					}
					continue
				}
				if len(evs) == 0 {
					pos = next
					if err := w.spool.Ack(pos); err != nil {
						w.log.Error("audit: ack", "err", err)
					}
					continue
				}
				pending, fromDisk = &shipBatch{events: evs, start: pos, end: next}, true
			}
			if pending == nil {
				replaying = false
				w.oldestUnsent.Store(0)
				if draining {
					return
				}
				select {
				case <-w.wake:
				case <-w.drain:
					draining = true
				case <-w.shipCtx.Done():
					return
				}
				continue
			}
			w.oldestUnsent.Store(UnixMs(pending.events[0].End))
		}
		ctx, cancel := context.WithTimeout(w.shipCtx, w.cfg.SinkTimeout)
		err := w.cfg.Sink.Write(ctx, pending.events)
		cancel()
		if err != nil {
			replaying = true
			w.sinkErrors.Add(1)
			w.log.Warn("audit: sink write failed, will retry", "events", len(pending.events), "err", err, "retry_in", backoff)
			if !w.sleep(backoff) {
				return
			}
			backoff = min(backoff*2, w.cfg.RetryMax)
			continue
		}
		backoff = w.cfg.RetryMin
		n := uint64(len(pending.events))
		w.sent.Add(n)
		if fromDisk && replaying {
			w.replayed.Add(n)
		}
		pos = pending.end
		pending = nil
		if err := w.spool.Ack(pos); err != nil {
			w.log.Error("audit: ack", "err", err)
		}
		if w.spoolFull.Load() && w.spool.UnsentBytes() < w.cfg.SpoolMaxBytes*9/10 {
			w.spoolFull.Store(false)
		}
		select {
		case <-w.drain:
			draining = true
		default:
		}
	}
}

// readSpool decodes up to SinkBatch events (about sinkReadBytes) from pos
// on, across segment boundaries, and returns the position after them. A read
// error after some events were decoded returns those; it recurs on the next
// call.
func (w *Writer) readSpool(pos Pos, buf *[]byte) ([]Event, Pos, error) {
	var (
		evs   []Event
		bytes int
	)
	for len(evs) < w.cfg.SinkBatch && bytes < sinkReadBytes {
		p := w.spool.Norm(pos)
		if !p.Less(w.spool.End()) {
			break
		}
		recs, next, nb, err := w.spool.Read(p, w.cfg.SinkBatch-len(evs), sinkReadBytes-bytes, *buf)
		*buf = nb
		if err != nil {
			if len(evs) > 0 {
				break
			}
			return nil, pos, err
		}
		if next == p {
			break
		}
		for _, r := range recs {
			bytes += len(r)
			var e Event
			if err := DecodeEvent(r, &e); err != nil {
				// The checksum matched, so this is a bug, not disk damage.
				w.log.Error("audit: undecodable spool record skipped", "err", err)
				continue
			}
			evs = append(evs, e)
		}
		pos = next
	}
	return evs, pos, nil
}

// takeHandoff returns the in-memory batches that continue exactly at pos,
// merged up to SinkBatch events, or nil when the next events must come from
// the spool. Batches behind pos (already shipped from disk) are discarded.
func (w *Writer) takeHandoff(pos Pos) *shipBatch {
	var out *shipBatch
	for {
		select {
		case b := <-w.handoff:
			switch {
			case out == nil && b.start == pos:
				out = &b
			case out != nil && b.start == w.spool.Norm(out.end) && len(out.events)+len(b.events) <= w.cfg.SinkBatch:
				out.events = append(out.events, b.events...)
				out.end = b.end
			case out != nil:
				// Not mergeable: ship what we have; the rest comes from disk.
				return out
			}
			continue
		default:
		}
		return out
	}
}

// sleep waits d; false when the shipper must stop.
func (w *Writer) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.shipCtx.Done():
		return false
	}
}
