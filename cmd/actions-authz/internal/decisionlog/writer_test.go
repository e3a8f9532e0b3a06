package decisionlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// stalledOutput blocks every Write until released, like a pipe whose
// reader has stopped reading, and tells when the first Write arrives.
type stalledOutput struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (s *stalledOutput) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func TestLogWriterNeverBlocks(t *testing.T) {
	line := func(i int) string { return fmt.Sprintf(`{"msg":"decision","n":%03d}`+"\n", i) } // 27 bytes
	tests := []struct {
		name    string
		max     int
		lines   int // written while the output is stalled
		kept    int
		dropped int
	}{
		{"all fit", 10 * 27, 10, 10, 0},
		{"some dropped", 4 * 27, 10, 4, 6},
		{"nothing fits", 20, 3, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &stalledOutput{entered: make(chan struct{}), release: make(chan struct{})}
			w := NewWriter(out, tt.max)
			w.Write([]byte(`{"msg":"first"}` + "\n"))
			<-out.entered // the writing goroutine is now stuck on the output

			wrote := make(chan struct{})
			go func() {
				for i := range tt.lines {
					if n, err := w.Write([]byte(line(i))); n != len(line(i)) || err != nil {
						t.Errorf("Write = %d, %v", n, err)
					}
				}
				close(wrote)
			}()
			select {
			case <-wrote:
			case <-time.After(10 * time.Second):
				t.Fatal("Write blocked on a stalled output")
			}
			if got := w.Dropped(); got != uint64(tt.dropped) {
				t.Errorf("Dropped() = %d, want %d", got, tt.dropped)
			}

			close(out.release)
			w.Close()
			got := strings.Split(strings.TrimSuffix(out.buf.String(), "\n"), "\n")
			want := []string{`{"msg":"first"}`}
			if tt.dropped > 0 {
				want = append(want, "DROPPED")
			}
			for i := range tt.kept {
				want = append(want, strings.TrimSuffix(line(i), "\n"))
			}
			if len(got) != len(want) {
				t.Fatalf("output has %d lines, want %d:\n%s", len(got), len(want), out.buf.String())
			}
			for i := range want {
				if want[i] == "DROPPED" {
					var rec struct {
						Level   string `json:"level"`
						Dropped int    `json:"dropped"`
					}
					if err := json.Unmarshal([]byte(got[i]), &rec); err != nil || rec.Dropped != tt.dropped || rec.Level != "WARN" {
						t.Errorf("line %d = %s, want a WARN line reporting %d dropped (%v)", i, got[i], tt.dropped, err)
					}
					continue
				}
				if got[i] != want[i] {
					t.Errorf("line %d = %s, want %s", i, got[i], want[i])
				}
			}
		})
	}
}

func TestLogWriterAfterClose(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, 0)
	w.Write([]byte("a\n"))
	w.Close()
	w.Write([]byte("b\n")) // straight through
	w.Close()              // twice is fine
	if out.String() != "a\nb\n" {
		t.Errorf("output %q, want %q", out.String(), "a\nb\n")
	}
}
