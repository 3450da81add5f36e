package record

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/troupe-go/troupe"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Benchmarks encode and decode one batch of benchRecordCount records with 100-byte values
// (8-byte keys, no headers), with this package and with kmsg plus the compression
// libraries driven the way kgo drives them, encoder and decoder state created once.
// Reported: ns/record, allocs/op (per batch), and MB/s of uncompressed records section.

const benchRecordCount = 1000

func reportPerRecord(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecordCount), "ns/record")
}

func BenchmarkEncode(b *testing.B) {
	recs := benchRecords(benchRecordCount, false)
	plain := build(b, None, NoProducer(), recs)
	for _, codec := range codecs {
		b.Run("troupe/"+codec.String(), func(b *testing.B) {
			bl := NewBuilder(mustCompressor(b, codec))
			var buf []byte
			b.SetBytes(int64(len(plain) - headerSize))
			b.ReportAllocs()
			for b.Loop() {
				bl.Reset(buf)
				for i := range recs {
					bl.Append(&recs[i])
				}
				var err error
				if buf, err = bl.Seal(NoProducer()); err != nil {
					b.Fatal(err)
				}
			}
			reportPerRecord(b)
		})
		b.Run("kmsg/"+codec.String(), func(b *testing.B) {
			comp := newKgoCompressor(b, codec)
			var (
				data, out []byte
				krecs     = make([]kmsg.Record, 0, len(recs))
			)
			b.SetBytes(int64(len(plain) - headerSize))
			b.ReportAllocs()
			for b.Loop() {
				krecs = krecs[:0]
				first := recs[0].Timestamp.UnixMilli()
				for i := range recs {
					krecs = append(krecs, kmsg.Record{
						TimestampDelta64: recs[i].Timestamp.UnixMilli() - first,
						OffsetDelta:      int32(i),
						Key:              recs[i].Key,
						Value:            recs[i].Value,
					})
					krecs[i].Length = kmsgRecordLen(&krecs[i])
				}
				data = data[:0]
				for i := range krecs {
					data = krecs[i].AppendTo(data)
				}
				kb := kmsg.RecordBatch{
					PartitionLeaderEpoch: -1, Magic: 2, Attributes: int16(codec),
					LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: first,
					MaxTimestamp: recs[len(recs)-1].Timestamp.UnixMilli(),
					ProducerID:   -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)),
					Records: comp.compress(data),
				}
				kb.Length = int32(49 + len(kb.Records))
				out = kb.AppendTo(out[:0])
				binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
			}
			reportPerRecord(b)
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	recs := benchRecords(benchRecordCount, false)
	plain := build(b, None, NoProducer(), recs)
	for _, codec := range codecs {
		raw := build(b, codec, NoProducer(), recs)
		b.Run("troupe/"+codec.String(), func(b *testing.B) {
			var (
				s   Scanner
				d   Decoder
				dst = make([]troupe.Record, 0, len(recs))
			)
			b.SetBytes(int64(len(plain) - headerSize))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(raw)
				for s.Next() {
					var err error
					if dst, err = d.Decode(dst[:0], s.Batch(), "topic", 0); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportPerRecord(b)
		})
		b.Run("kmsg/"+codec.String(), func(b *testing.B) {
			dec := newKgoDecompressor(b)
			krecs := make([]kmsg.Record, len(recs))
			b.SetBytes(int64(len(plain) - headerSize))
			b.ReportAllocs()
			for b.Loop() {
				var kb kmsg.RecordBatch
				if err := kb.ReadFrom(raw); err != nil {
					b.Fatal(err)
				}
				if crc32.Checksum(raw[21:], castagnoli) != uint32(kb.CRC) {
					b.Fatal("crc")
				}
				data := dec.decompress(b, Codec(kb.Attributes&7), kb.Records)
				for i := range krecs {
					l, n := binary.Varint(data)
					if err := krecs[i].ReadFrom(data[:n+int(l)]); err != nil {
						b.Fatal(err)
					}
					data = data[n+int(l):]
				}
			}
			reportPerRecord(b)
		})
	}
}

// kmsgRecordLen computes a kmsg record's Length field, which kmsg leaves to its caller.
func kmsgRecordLen(r *kmsg.Record) int32 {
	n := 1 + varlongLen(r.TimestampDelta64) + varintLen(r.OffsetDelta) +
		bytesLen(r.Key) + bytesLen(r.Value) + varintLen(int32(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintLen(int32(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	return int32(n)
}

// kgoCompressor holds encoders the way kgo's default compressor does, created once.
type kgoCompressor struct {
	codec Codec
	buf   bytes.Buffer
	gz    *gzip.Writer
	lz    *lz4.Writer
	zs    *zstd.Encoder
}

func newKgoCompressor(b *testing.B, codec Codec) *kgoCompressor {
	c := &kgoCompressor{codec: codec}
	c.gz, _ = gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	c.lz = lz4.NewWriter(nil)
	var err error
	c.zs, err = zstd.NewWriter(nil, zstd.WithWindowSize(64<<10), zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.zs.Close() })
	return c
}

func (c *kgoCompressor) compress(src []byte) []byte {
	c.buf.Reset()
	switch c.codec {
	case None:
		return src
	case Gzip:
		c.gz.Reset(&c.buf)
		c.gz.Write(src)
		c.gz.Close()
	case Snappy:
		return s2.EncodeSnappy(c.buf.AvailableBuffer()[:0], src)
	case LZ4:
		c.lz.Reset(&c.buf)
		c.lz.Write(src)
		c.lz.Close()
	case Zstd:
		return c.zs.EncodeAll(src, c.buf.AvailableBuffer()[:0])
	}
	return c.buf.Bytes()
}

// kgoDecompressor holds decoders the way kgo's default decompressor does.
type kgoDecompressor struct {
	src bytes.Reader
	out bytes.Buffer
	gz  gzip.Reader
	lz  *lz4.Reader
	zs  *zstd.Decoder
}

func newKgoDecompressor(b *testing.B) *kgoDecompressor {
	d := &kgoDecompressor{lz: lz4.NewReader(nil)}
	var err error
	if d.zs, err = zstd.NewReader(nil, zstd.WithDecoderLowmem(true), zstd.WithDecoderConcurrency(1)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.zs.Close)
	return d
}

// decompress returns a fresh copy, as kgo does (records alias it).
func (d *kgoDecompressor) decompress(b *testing.B, codec Codec, src []byte) []byte {
	var r io.Reader
	switch codec {
	case None:
		return src
	case Snappy:
		out, err := s2.Decode(nil, src)
		if err != nil {
			b.Fatal(err)
		}
		return out
	case Zstd:
		out, err := d.zs.DecodeAll(src, nil)
		if err != nil {
			b.Fatal(err)
		}
		return out
	case Gzip:
		d.src.Reset(src)
		if err := d.gz.Reset(&d.src); err != nil {
			b.Fatal(err)
		}
		r = &d.gz
	case LZ4:
		d.src.Reset(src)
		d.lz.Reset(&d.src)
		r = d.lz
	}
	d.out.Reset()
	if _, err := d.out.ReadFrom(r); err != nil {
		b.Fatal(err)
	}
	return bytes.Clone(d.out.Bytes())
}
