package localstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a child process with a bounded lifetime: it runs in its own
// process group, dies with its parent where the system allows (Linux), is
// killed when its lifetime ends, and keeps its output for a failure report.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  output
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed
	stop sync.Once
}

// Start runs cmd as name for at most lifetime. Its standard output and error
// are kept (see Output) and, when echo is not nil, copied there too.
func Start(name string, cmd *exec.Cmd, lifetime time.Duration, echo io.Writer) (*Process, error) {
	out := &buffer{}
	var w io.Writer = out
	if echo != nil {
		w = io.MultiWriter(out, echo)
	}
	cmd.Stdout, cmd.Stderr = w, w
	return start(name, cmd, lifetime, out)
}

// StartLogged is Start with the process's output appended to the file at
// path, straight from the child: this process copies nothing. Use it for a
// process that writes a lot under load (decision logs), whose copy would
// cost this process CPU; Output and Tail read the end of the file.
func StartLogged(name string, cmd *exec.Cmd, lifetime time.Duration, path string) (*Process, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = f, f
	return start(name, cmd, lifetime, fileOutput(path))
}

func start(name string, cmd *exec.Cmd, lifetime time.Duration, out output) (*Process, error) {
	p := &Process{Name: name, cmd: cmd, out: out, done: make(chan struct{})}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	timer := time.AfterFunc(lifetime, func() {
		fmt.Fprintf(p.out, "localstack: %s killed: its lifetime of %v ended\n", name, lifetime)
		p.Kill()
	})
	go func() {
		p.err = cmd.Wait()
		timer.Stop()
		close(p.done)
	}()
	return p, nil
}

// PID is the process's ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Output returns everything the process has written so far.
func (p *Process) Output() string { return p.out.String() }

// Tail returns the last n lines of the process's output.
func (p *Process) Tail(n int) string { return tail(p.out.String(), n) }

// Stop asks the process to end (SIGTERM) and kills its group if it has not
// within grace. It returns once the process has exited.
func (p *Process) Stop(grace time.Duration) {
	p.stop.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
		p.Kill()
	})
	<-p.done
}

// Kill ends the process and whatever it forked at once (SIGKILL to its
// group).
func (p *Process) Kill() {
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd.Process.Kill()
}

// exitError describes an early exit, with the tail of the output.
func (p *Process) exitError() error {
	return fmt.Errorf("%s exited early (%v); the end of its output:\n%s", p.Name, p.err, p.Tail(40))
}

// WaitHTTP polls url until it answers with status want, the process exits,
// or ctx ends. The error names the process and holds its last output.
func (p *Process) WaitHTTP(ctx context.Context, url string, want int, check func(body string) bool) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode == want && (check == nil || check(string(body))) {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s: %s did not answer %d (last: %s): %w; the end of its output:\n%s",
				p.Name, url, want, tail(last, 5), ctx.Err(), p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitListening waits until addr accepts TCP connections.
func (p *Process) WaitListening(ctx context.Context, addr string) error {
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s: not listening on %s: %w; the end of its output:\n%s", p.Name, addr, ctx.Err(), p.Tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// output is where a Process's output goes and is read back from.
type output interface {
	io.Writer
	String() string
}

// fileOutput is output kept in a file: Write appends a line of ours, String
// returns the file's last 4 MiB.
type fileOutput string

func (f fileOutput) Write(p []byte) (int, error) {
	file, err := os.OpenFile(string(f), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	return file.Write(p)
}

func (f fileOutput) String() string {
	file, err := os.Open(string(f))
	if err != nil {
		return err.Error()
	}
	defer file.Close()
	if st, err := file.Stat(); err == nil && st.Size() > bufferMax {
		file.Seek(st.Size()-bufferMax, io.SeekStart)
	}
	b, _ := io.ReadAll(file)
	return string(b)
}

// buffer is a goroutine-safe output buffer, bounded to its last 4 MiB.
type buffer struct {
	mu sync.Mutex
	b  []byte
}

const bufferMax = 4 << 20

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if over := len(b.b) - bufferMax; over > 0 {
		b.b = append(b.b[:0], b.b[over:]...)
	}
	return len(p), nil
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// FreeAddr returns a loopback address that nothing listened on a moment ago.
func FreeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}
