package main

import (
	"io"
	"sync"
	"time"
)

// logFlushInterval bounds how long a log line waits in the logWriter.
const logFlushInterval = 100 * time.Millisecond

// logBufferSize is the most a logWriter holds before it writes.
const logBufferSize = 64 << 10

// logWriter buffers the process's log lines and writes them out at least
// every interval, whenever the buffer fills, and on Close. With decision
// logs on, every Check is a log line, and a write system call per line
// costs about a third of a cached Check; batched, a few calls a second do.
// A line is never split between writes. A crash loses at most the last
// interval's lines.
type logWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	err error // the first write error, returned by later Writes

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// newLogWriter returns a logWriter over w that flushes every interval until
// Close.
func newLogWriter(w io.Writer, interval time.Duration) *logWriter {
	l := &logWriter{w: w, buf: make([]byte, 0, logBufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.Flush()
			}
		}
	}()
	return l
}

// Write buffers p, one whole log line as slog writes it.
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	if len(l.buf)+len(p) > cap(l.buf) {
		l.flushLocked()
		if len(p) > cap(l.buf) {
			if _, err := l.w.Write(p); err != nil {
				l.err = err
				return 0, err
			}
			return len(p), nil
		}
	}
	l.buf = append(l.buf, p...)
	return len(p), l.err
}

// Flush writes out what is buffered.
func (l *logWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	return l.err
}

func (l *logWriter) flushLocked() {
	if len(l.buf) == 0 || l.err != nil {
		return
	}
	if _, err := l.w.Write(l.buf); err != nil {
		l.err = err
	}
	l.buf = l.buf[:0]
}

// Close stops the periodic flush and writes out what is buffered. Later
// Writes go straight to the underlying writer.
func (l *logWriter) Close() error {
	l.closeOnce.Do(func() {
		close(l.stop)
		<-l.done
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	l.buf = l.buf[:0:0] // unbuffered from now on
	return l.err
}
