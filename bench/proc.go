package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is a child process spoken to line by line: the driver writes commands to its
// stdin and reads its answers from its stdout; its stderr is kept (the last 64 KiB) for
// error messages, and also copied to the driver's stderr when verbose.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, line by line; closed at end of output
	errs  *tailBuffer
	done  chan struct{} // closed once the process has exited and cmd.ProcessState is set
	err   error         // Wait's result, set before done is closed
}

// start starts bin with args.
func start(name, bin string, args []string, verbose bool) (*proc, error) {
	p := &proc{
		name:  name,
		cmd:   exec.Command(bin, args...),
		lines: make(chan string, 16),
		errs:  &tailBuffer{max: 64 << 10},
		done:  make(chan struct{}),
	}
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stderr = p.errs
	if verbose {
		p.cmd.Stderr = io.MultiWriter(p.errs, os.Stderr)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		in := bufio.NewScanner(stdout)
		in.Buffer(make([]byte, 64<<10), 1<<20)
		for in.Scan() {
			p.lines <- in.Text()
		}
		close(p.lines)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// send writes one command line.
func (p *proc) send(line string) error {
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// readLine waits up to timeout for the next line of output.
func (p *proc) readLine(timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-p.lines:
		if !ok {
			<-p.done
			return "", fmt.Errorf("%s exited (%v) without answering; stderr:\n%s", p.name, p.err, p.errs.String())
		}
		return line, nil
	case <-t.C:
		return "", fmt.Errorf("%s did not answer within %v", p.name, timeout)
	}
}

// wait waits up to timeout for the process to exit and returns its exit error.
func (p *proc) wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case _, ok := <-p.lines:
			if ok {
				continue // output after the last expected line: ignored
			}
			<-p.done
			return p.err
		case <-t.C:
			return fmt.Errorf("%s did not exit within %v", p.name, timeout)
		}
	}
}

// kill dumps the process's goroutines (SIGQUIT makes a Go program print every stack to
// stderr and exit), gives it two seconds, then kills it. It returns the stderr tail, which
// then holds the dump.
func (p *proc) kill() string {
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	if p.wait(2*time.Second) != nil {
		_ = p.cmd.Process.Kill()
		_ = p.wait(5 * time.Second)
	}
	return p.errs.String()
}

// usage returns the exited process's CPU time (user+sys) and peak RSS.
func (p *proc) usage() (cpu time.Duration, maxRSS int64) {
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, ru.Maxrss * 1024 // Linux reports Maxrss in KiB
}

// tailBuffer keeps the last max bytes written to it. It is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
