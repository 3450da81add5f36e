package codec

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// prefixOnlyReader fails the test if anything past the 4-byte prefix is read.
type prefixOnlyReader struct {
	r    io.Reader
	read int
	t    *testing.T
}

func (p *prefixOnlyReader) Read(b []byte) (int, error) {
	if p.read >= 4 {
		p.t.Fatal("read past the size prefix of an oversized frame")
	}
	n, err := p.r.Read(b[:min(len(b), 4-p.read)])
	p.read += n
	return n, err
}

func TestFrameRoundTrip(t *testing.T) {
	var stream []byte
	for _, body := range [][]byte{{1, 2, 3}, {}, bytes.Repeat([]byte{9}, 1000)} {
		var m int
		stream, m = BeginFrame(stream)
		stream = append(stream, body...)
		stream = EndFrame(stream, m)
	}
	r := bytes.NewReader(stream)
	buf := make([]byte, 0, 16)
	for _, want := range []int{3, 0, 1000} {
		var err error
		buf, err = ReadFrame(r, buf, 1<<20)
		if err != nil || len(buf) != want {
			t.Fatalf("frame of %d: got %d bytes, %v", want, len(buf), err)
		}
	}
	if _, err := ReadFrame(r, buf, 1<<20); err != io.EOF {
		t.Fatalf("clean end: got %v, want io.EOF", err)
	}
}

func TestFrameReusesBuffer(t *testing.T) {
	frame := EndFrame(append(AppendInt32(nil, 0), 1, 2), 0)
	buf := make([]byte, 0, 64)
	r := bytes.NewReader(frame)
	allocs := testing.AllocsPerRun(50, func() {
		r.Reset(frame)
		got, err := ReadFrame(r, buf, 64)
		if err != nil || len(got) != 2 || &got[0] != &buf[:1][0] {
			t.Fatal("frame not read into the given buffer")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

func TestFrameErrors(t *testing.T) {
	huge := []byte{0x7f, 0xff, 0xff, 0xff}
	_, err := ReadFrame(&prefixOnlyReader{r: bytes.NewReader(huge), t: t}, nil, 1<<20)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xfe}), nil, 10); !errors.Is(err, ErrInvalidLength) {
		t.Fatalf("negative frame: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0}), nil, 10); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("torn prefix: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 5, 1}), nil, 10); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("torn body: %v", err)
	}
	if b, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 10}), nil, 10); err == nil || len(b) != 0 {
		t.Fatalf("frame at the maximum but missing its body: %v", err)
	}
}
