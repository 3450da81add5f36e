package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/troupe-go/troupe"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The oracle: franz-go's kmsg parses and builds batches and records, and the compression
// libraries are driven directly, the way franz-go's kgo client drives them, without any of
// this package's code in between.

// refCompress compresses src with codec the way kgo does; for snappy, xerialFramed selects
// the Java client's xerial framing instead of a plain block.
func refCompress(t tb, codec Codec, xerialFramed bool, src []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case None:
		return src
	case Gzip:
		w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		w.Write(src)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case Snappy:
		if xerialFramed {
			return xerial.Encode(nil, src)
		}
		return s2.EncodeSnappy(nil, src)
	case LZ4:
		w := lz4.NewWriter(&buf) // kgo: default options (4 MiB blocks, content checksum)
		w.Write(src)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithWindowSize(64<<10), zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		return enc.EncodeAll(src, nil)
	default:
		t.Fatalf("codec %v", codec)
	}
	return buf.Bytes()
}

// refDecompress decompresses src with codec, accepting both snappy framings.
func refDecompress(t tb, codec Codec, src []byte) []byte {
	t.Helper()
	var (
		out []byte
		err error
	)
	switch codec {
	case None:
		return src
	case Gzip:
		var r *gzip.Reader
		if r, err = gzip.NewReader(bytes.NewReader(src)); err == nil {
			out, err = io.ReadAll(r)
		}
	case Snappy:
		out, err = xerial.Decode(src)
	case LZ4:
		out, err = io.ReadAll(lz4.NewReader(bytes.NewReader(src)))
	case Zstd:
		var dec *zstd.Decoder
		if dec, err = zstd.NewReader(nil); err == nil {
			out, err = dec.DecodeAll(src, nil)
			dec.Close()
		}
	default:
		t.Fatalf("codec %v", codec)
	}
	if err != nil {
		t.Fatalf("reference %s decompression: %v", codec, err)
	}
	return out
}

// kmsgParse parses one whole batch with kmsg, checks its CRC, and reads its records the
// way kgo does: each record is a varint length and that many bytes.
func kmsgParse(t tb, raw []byte) (kmsg.RecordBatch, []kmsg.Record) {
	t.Helper()
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(raw); err != nil {
		t.Fatalf("kmsg: %v", err)
	}
	if got := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)); uint32(kb.CRC) != got {
		t.Fatalf("kmsg batch CRC %#x, computed %#x", uint32(kb.CRC), got)
	}
	data := refDecompress(t, Codec(kb.Attributes&0x07), kb.Records)
	recs := make([]kmsg.Record, kb.NumRecords)
	for i := range recs {
		l, n := binary.Varint(data)
		if n <= 0 || int(l) > len(data)-n {
			t.Fatalf("kmsg record %d: bad length", i)
		}
		if err := recs[i].ReadFrom(data[:n+int(l)]); err != nil {
			t.Fatalf("kmsg record %d: %v", i, err)
		}
		data = data[n+int(l):]
	}
	if len(data) != 0 {
		t.Fatalf("%d bytes after the records", len(data))
	}
	return kb, recs
}

// batchSpec describes a batch for kmsgBuild: everything a broker may hand a consumer.
type batchSpec struct {
	baseOffset    int64
	leaderEpoch   int32
	attrs         Attributes
	xerial        bool
	baseTimestamp int64
	maxTimestamp  int64
	producer      Producer
	records       []kmsg.Record // OffsetDelta, TimestampDelta64, Key, Value, Headers set
}

// kmsgBuild encodes spec with kmsg and the reference compressors, CRC included.
func kmsgBuild(t tb, spec batchSpec) []byte {
	t.Helper()
	var data []byte
	for i := range spec.records {
		r := &spec.records[i]
		r.Length = 0
		r.Length = int32(len(r.AppendTo(nil)) - 1) // a zero Length takes one byte
		data = r.AppendTo(data)
	}
	kb := kmsg.RecordBatch{
		FirstOffset:          spec.baseOffset,
		PartitionLeaderEpoch: spec.leaderEpoch,
		Magic:                2,
		Attributes:           int16(spec.attrs),
		FirstTimestamp:       spec.baseTimestamp,
		MaxTimestamp:         spec.maxTimestamp,
		ProducerID:           spec.producer.ID,
		ProducerEpoch:        spec.producer.Epoch,
		FirstSequence:        spec.producer.BaseSequence,
		NumRecords:           int32(len(spec.records)),
		Records:              refCompress(t, spec.attrs.Codec(), spec.xerial, data),
	}
	if n := len(spec.records); n > 0 {
		kb.LastOffsetDelta = spec.records[n-1].OffsetDelta
	}
	kb.Length = int32(49 + len(kb.Records))
	raw := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// sameKmsgRecord compares a record kmsg read with one this package decoded, which must
// carry offset wantOffset and timestamp wantTS (milliseconds, -1 for none).
func sameKmsgRecord(k *kmsg.Record, r *troupe.Record, wantOffset, wantTS int64) error {
	if !sameBytes(k.Key, r.Key) || !sameBytes(k.Value, r.Value) {
		return fmt.Errorf("key/value %q/%q, want %q/%q", r.Key, r.Value, k.Key, k.Value)
	}
	if len(k.Headers) != len(r.Headers) {
		return fmt.Errorf("%d headers, want %d", len(r.Headers), len(k.Headers))
	}
	for i, h := range k.Headers {
		if h.Key != r.Headers[i].Key || !sameBytes(h.Value, r.Headers[i].Value) {
			return fmt.Errorf("header %d %q:%q, want %q:%q", i, r.Headers[i].Key, r.Headers[i].Value, h.Key, h.Value)
		}
	}
	if r.Offset != wantOffset {
		return fmt.Errorf("offset %d, want %d", r.Offset, wantOffset)
	}
	if got := r.Timestamp; (wantTS == -1) != got.IsZero() || (wantTS != -1 && got.UnixMilli() != wantTS) {
		return fmt.Errorf("timestamp %v, want %d ms", got, wantTS)
	}
	return nil
}
