package decisionlog

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// defaultLogBuffer bounds the log lines waiting to be written: at about
// 500 bytes a decision line, some 8,000 lines, a few seconds of a busy
// replica's decisions.
const defaultLogBuffer = 4 << 20

// Writer puts the log between the request path and a slow output: Write
// copies the line into a bounded buffer and returns, and one goroutine
// writes the buffer out, many lines per write when they come fast. A Check
// never waits on a pipe whose reader is behind or a disk that stalls. Lines
// wait at most flushDelay before they are written. When
// the buffer is full a line is dropped, never a Check delayed: the drops
// are counted (Dropped) and reported by a line of their own once the output
// catches up.
//
// slog's handler writes each record with one Write call, so lines are never
// split. Close writes out what is buffered and stops the goroutine; writes
// after Close go straight to the output.
type Writer struct {
	out   io.Writer
	max   int
	total atomic.Uint64 // lines dropped since the start

	mu      sync.Mutex
	buf     []byte // lines waiting
	spare   []byte // the other buffer, reused
	dropped int
	closed  bool

	wake chan struct{} // capacity 1: there is something to write
	stop chan struct{}
	done chan struct{}
}

// NewWriter starts a Writer over out that buffers at most max bytes
// (defaultLogBuffer when max <= 0). Close stops it.
func NewWriter(out io.Writer, max int) *Writer {
	if max <= 0 {
		max = defaultLogBuffer
	}
	w := &Writer{
		out: out, max: max,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go w.run()
	return w
}

// Write buffers p, or drops it when the buffer is full. It never blocks on
// the output and never fails.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	if len(w.buf)+len(p) > w.max {
		w.dropped++
		w.mu.Unlock()
		w.total.Add(1)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Dropped returns how many lines were dropped since the start.
func (w *Writer) Dropped() uint64 { return w.total.Load() }

// Close writes out the buffered lines and stops the writing goroutine.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	return nil
}

// flushDelay is how long the writing goroutine lets lines gather after the
// first one arrives: under load, one write carries hundreds of lines.
const flushDelay = 5 * time.Millisecond

func (w *Writer) run() {
	defer close(w.done)
	delay := time.NewTimer(flushDelay)
	delay.Stop()
	for {
		select {
		case <-w.wake:
		case <-w.stop:
			w.flush()
			return
		}
		delay.Reset(flushDelay)
		select {
		case <-delay.C:
			w.flush()
		case <-w.stop:
			delay.Stop()
			w.flush()
			return
		}
	}
}

// flush writes out everything buffered so far. Only run calls it.
func (w *Writer) flush() {
	w.mu.Lock()
	buf, dropped := w.buf, w.dropped
	w.buf, w.dropped = w.spare[:0], 0
	w.mu.Unlock()

	if dropped > 0 {
		w.out.Write(droppedLine(time.Now(), dropped))
	}
	if len(buf) > 0 {
		w.out.Write(buf) // an output error has nowhere to go but the output
	}

	w.mu.Lock()
	w.spare = buf[:0]
	w.mu.Unlock()
}

// droppedLine is the JSON log line that reports n dropped lines, in the
// shape of slog's JSON handler.
func droppedLine(t time.Time, n int) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"time":"`...)
	b = appendRFC3339Millis(b, t)
	b = append(b, `","level":"WARN","msg":"log output too slow: lines dropped","dropped":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, "}\n"...)
}
