package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is an io.Writer that keeps every Write apart.
type recorder struct {
	mu     sync.Mutex
	writes []string
	fail   error
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return 0, r.fail
	}
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.writes, "")
}

func (r *recorder) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes)
}

func TestLogWriter(t *testing.T) {
	big := strings.Repeat("x", logBufferSize+10) + "\n"
	tests := []struct {
		name      string
		lines     []string
		wantCalls int // writes to the underlying writer, after Close
	}{
		{"nothing", nil, 0},
		{"small lines batched into one write", []string{"a\n", "b\n", "c\n"}, 1},
		{"a line larger than the buffer goes through in order", []string{"a\n", big, "b\n"}, 3},
		{"a full buffer is written before the next line", []string{strings.Repeat("y", logBufferSize-1) + "\n", "z\n"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			l := newLogWriter(rec, time.Hour) // no periodic flush here
			for _, line := range tt.lines {
				if n, err := l.Write([]byte(line)); err != nil || n != len(line) {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := rec.text(), strings.Join(tt.lines, ""); got != want {
				t.Errorf("written %q..., want %q...", trim(got), trim(want))
			}
			if got := rec.calls(); got != tt.wantCalls {
				t.Errorf("%d writes, want %d", got, tt.wantCalls)
			}
			// After Close, lines go straight through.
			l.Write([]byte("late\n"))
			if !strings.HasSuffix(rec.text(), "late\n") || l.Close() != nil {
				t.Error("a line written after Close was held back")
			}
		})
	}
}

func trim(s string) string { return s[:min(len(s), 20)] }

func TestLogWriterFlushesPeriodically(t *testing.T) {
	rec := &recorder{}
	l := newLogWriter(rec, 5*time.Millisecond)
	defer l.Close()
	l.Write([]byte("line\n"))
	deadline := time.Now().Add(10 * time.Second)
	for rec.text() != "line\n" {
		if time.Now().After(deadline) {
			t.Fatal("the line was never flushed without Close")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLogWriterConcurrent(t *testing.T) {
	rec := &recorder{}
	l := newLogWriter(rec, time.Millisecond)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				l.Write(fmt.Appendf(nil, "goroutine %d line %d %s\n", g, i, strings.Repeat("-", i%200)))
			}
		})
	}
	wg.Wait()
	l.Close()
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(rec.text(), "\n"), "\n") {
		var g, i int
		if _, err := fmt.Sscanf(line, "goroutine %d line %d", &g, &i); err != nil || seen[line] {
			t.Fatalf("torn or repeated line %q", trim(line))
		}
		if want := fmt.Sprintf("goroutine %d line %d %s", g, i, strings.Repeat("-", i%200)); line != want {
			t.Fatalf("line %q changed", trim(line))
		}
		seen[line] = true
	}
	if len(seen) != 8*500 {
		t.Errorf("%d lines, want %d", len(seen), 8*500)
	}
}

func TestLogWriterError(t *testing.T) {
	boom := errors.New("disk full")
	rec := &recorder{fail: boom}
	l := newLogWriter(rec, time.Hour)
	l.Write([]byte("a\n"))
	if err := l.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush: %v, want %v", err, boom)
	}
	if _, err := l.Write([]byte("b\n")); !errors.Is(err, boom) {
		t.Errorf("Write after a failed flush: %v, want %v", err, boom)
	}
	if err := l.Close(); !errors.Is(err, boom) {
		t.Errorf("Close: %v, want %v", err, boom)
	}
}
