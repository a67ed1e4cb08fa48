// Package fastjson decodes and encodes JSON for known Go types without
// reflection.
//
// encoding/json spends most of a cold call building per-type caches
// through reflection: a millisecond or more of CPU, and a hundred page
// faults, the first time a process meets a type. husk's commands are
// short-lived processes that each meet their types once, so they pay that
// every time. Here a small scanner (Decoder) and one hand-written function
// per type walk the bytes once.
//
// The contract for decoders built on it is narrow: when Decode reports
// ok, the result is exactly what json.Unmarshal would produce; on anything
// a decoder does not handle exactly it calls Fail, Decode reports !ok, and
// the caller falls back to encoding/json (which also produces the precise
// error). Failure is a panic recovered in Decode: it keeps every decoder a
// straight line of code instead of threading errors through each one.
// Other panics (bugs) are not recovered.
//
// The encoding/json (v1) behaviours matched, beyond the obvious:
//   - null leaves a string, number, bool or non-pointer struct untouched
//     and sets a pointer, slice or map to nil;
//   - a repeated key decodes again into what the earlier one produced: a
//     struct or pointed-to struct is merged into, a map gets more entries,
//     and a slice reuses its elements (Slice);
//   - `[]` and `{}` give an empty non-nil slice or map;
//   - strings: escapes including \uXXXX and surrogate pairs, and invalid
//     UTF-8 or lone surrogates become U+FFFD;
//   - integers: an exponent or fraction (even 1.0) is a type error, as is
//     "-0" for an unsigned field, and overflow of the field's width.
package fastjson

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Decode runs dec over data, which must hold one JSON object and nothing
// else. ok is false if dec or the scanner gave up.
func Decode(data []byte, dec func(*Decoder)) (ok bool) {
	// One copy of the whole document: strings without escapes are then
	// substrings of it instead of one allocation each.
	d := Decoder{s: string(data)}
	defer func() {
		if ok {
			return
		}
		if r := recover(); r != nil {
			if _, mine := r.(failure); !mine {
				panic(r)
			}
		}
	}()
	if d.Peek() != '{' { // encoding/json: a top-level null is a no-op, anything else a type error
		return false
	}
	dec(&d)
	d.ws()
	return d.pos == len(d.s) // no trailing data
}

// Decoder reads JSON from s, one value at a time, starting at pos.
type Decoder struct {
	s     string
	pos   int
	depth int // nesting of the unknown value skip is in
}

// failure is the panic value Fail raises and Decode recovers.
type failure struct{}

func (d *Decoder) Fail() { panic(failure{}) }

// maxSkipDepth bounds the nesting of skipped values. encoding/json
// rejects nesting deeper than 10000; staying far below that (the known
// structure adds less than 10 levels) means we never accept what it
// rejects. Deeper input is left to encoding/json.
const maxSkipDepth = 1000

// ws skips JSON whitespace.
func (d *Decoder) ws() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// Peek skips whitespace and returns the next byte, 0 at end of input (0 is
// never valid there, so callers treat it like any unexpected byte).
func (d *Decoder) Peek() byte {
	d.ws()
	if d.pos < len(d.s) {
		return d.s[d.pos]
	}
	return 0
}

// literal consumes word (true, false or null). What follows is checked by
// the caller's grammar: "nullx" fails at the 'x' as "{} x" would.
func (d *Decoder) literal(word string) {
	if !strings.HasPrefix(d.s[d.pos:], word) {
		d.Fail()
	}
	d.pos += len(word)
}

// Null consumes a null if one comes next.
func (d *Decoder) Null() bool {
	if d.Peek() != 'n' {
		return false
	}
	d.literal("null")
	return true
}

// ObjStart consumes '{' and reports whether a member follows. Loop:
//
//	for more := d.ObjStart(); more; more = d.ObjNext() { k := d.Key(); ... }
func (d *Decoder) ObjStart() bool {
	if d.Peek() != '{' {
		d.Fail()
	}
	d.pos++
	if d.Peek() == '}' {
		d.pos++
		return false
	}
	return true
}

// ObjNext consumes the ',' or '}' after a member.
func (d *Decoder) ObjNext() bool {
	switch d.Peek() {
	case ',':
		d.pos++
		return true
	case '}':
		d.pos++
		return false
	}
	d.Fail()
	return false
}

// Key reads a member's name and the ':' after it.
func (d *Decoder) Key() string {
	if d.Peek() != '"' {
		d.Fail()
	}
	k := d.Str()
	if d.Peek() != ':' {
		d.Fail()
	}
	d.pos++
	return k
}

// ArrStart and arrNext are objStart and objNext for arrays.
func (d *Decoder) ArrStart() bool {
	if d.Peek() != '[' {
		d.Fail()
	}
	d.pos++
	if d.Peek() == ']' {
		d.pos++
		return false
	}
	return true
}

func (d *Decoder) ArrNext() bool {
	switch d.Peek() {
	case ',':
		d.pos++
		return true
	case ']':
		d.pos++
		return false
	}
	d.Fail()
	return false
}

// Str reads the string literal at pos (which holds its '"').
func (d *Decoder) Str() string {
	start := d.pos + 1
	for i := start; i < len(d.s); i++ {
		switch c := d.s[i]; {
		case c == '"':
			d.pos = i + 1
			return d.s[start:i]
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return d.stringSlow(start)
		}
	}
	d.Fail()
	return ""
}

// stringSlow is string for literals with escapes or non-ASCII bytes,
// following encoding/json's unquote: the result is a substring when
// nothing needs rewriting, otherwise built in buf from the first escape
// or invalid byte on.
func (d *Decoder) stringSlow(start int) string {
	s := d.s
	var buf []byte
	i := start
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.pos = i + 1
			if buf == nil {
				return s[start:i]
			}
			return string(buf)
		case c < 0x20: // control characters must be escaped
			d.Fail()
		case c == '\\':
			if buf == nil {
				buf = append(make([]byte, 0, i-start+16), s[start:i]...)
			}
			i++
			if i >= len(s) {
				d.Fail()
			}
			switch c := s[i]; c {
			case '"', '\\', '/':
				buf = append(buf, c)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r := hex4(s, i+1)
				if r < 0 {
					d.Fail()
				}
				i += 4
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by an escaped low one is a
					// pair; anything else is U+FFFD and the next escape is
					// decoded on its own.
					r2 := rune(-1)
					if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
						r2 = hex4(s, i+3)
					}
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						r = dec
						i += 6
					} else {
						r = unicode.ReplacementChar
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.Fail()
			}
			i++
		case c < utf8.RuneSelf:
			if buf != nil {
				buf = append(buf, c)
			}
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 { // invalid UTF-8
				if buf == nil {
					buf = append(make([]byte, 0, i-start+16), s[start:i]...)
				}
				buf = utf8.AppendRune(buf, unicode.ReplacementChar)
			} else if buf != nil {
				buf = append(buf, s[i:i+n]...)
			}
			i += n
		}
	}
	d.Fail()
	return ""
}

// hex4 decodes the 4 hex digits at s[i:], -1 if there are none.
func hex4(s string, i int) rune {
	if i+4 > len(s) {
		return -1
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// number consumes a JSON number, returning its sign, its integer digits
// and whether it has neither fraction nor exponent.
func (d *Decoder) number() (neg bool, digits string, integer bool) {
	d.ws()
	s, i := d.s, d.pos
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		d.Fail()
	}
	digits, integer = s[start:i], true
	if i < len(s) && s[i] == '.' {
		integer = false
		i = d.digits(i + 1)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		i = d.digits(i)
	}
	d.pos = i
	return neg, digits, integer
}

// digits skips the one or more decimal digits at s[i:].
func (d *Decoder) digits(i int) int {
	j := i
	for j < len(d.s) && '0' <= d.s[j] && d.s[j] <= '9' {
		j++
	}
	if j == i {
		d.Fail()
	}
	return j
}

// Uint64 reads a non-negative integer, as strconv.ParseUint would accept
// it (so not "-0").
func (d *Decoder) Uint64() uint64 {
	neg, digits, integer := d.number()
	if neg || !integer {
		d.Fail()
	}
	return d.magnitude(digits)
}

// Int64 reads an integer, as strconv.ParseInt would accept it.
func (d *Decoder) Int64() int64 {
	neg, digits, integer := d.number()
	if !integer {
		d.Fail()
	}
	m := d.magnitude(digits)
	if neg {
		if m > 1<<63 {
			d.Fail()
		}
		return -int64(m) // m == 1<<63 wraps to math.MinInt64, as wanted
	}
	if m > 1<<63-1 {
		d.Fail()
	}
	return int64(m)
}

func (d *Decoder) magnitude(digits string) uint64 {
	var n uint64
	for _, c := range []byte(digits) {
		v := uint64(c - '0')
		if n > (1<<64-1-v)/10 {
			d.Fail()
		}
		n = n*10 + v
	}
	return n
}

// Skip consumes a value of any type, checking its syntax: encoding/json
// validates the whole document before decoding, so an unknown member with
// a malformed value is an error there too.
func (d *Decoder) Skip() {
	switch d.Peek() {
	case '{':
		d.nest()
		for more := d.ObjStart(); more; more = d.ObjNext() {
			d.Key()
			d.Skip()
		}
		d.depth--
	case '[':
		d.nest()
		for more := d.ArrStart(); more; more = d.ArrNext() {
			d.Skip()
		}
		d.depth--
	case '"':
		d.Str()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		d.number()
	}
}

func (d *Decoder) nest() {
	d.depth++
	if d.depth > maxSkipDepth {
		d.Fail()
	}
}

// Unknown skips the value of a member that is not one of the struct's
// fields. encoding/json matches names case-insensitively (with Unicode
// folding such as "ſ" for "s"); keys that would match that way are left
// to it, as are non-ASCII keys, rather than reimplementing the folding.
func (d *Decoder) Unknown(key string, fields []string) {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			d.Fail()
		}
	}
	for _, f := range fields {
		if strings.EqualFold(key, f) {
			d.Fail()
		}
	}
	d.Skip()
}

// Decoders of values, one per Go type, all with the same shape so that the
// generic Ptr, Slice and Map can take them.

func String[T ~string](d *Decoder, p *T) {
	switch d.Peek() {
	case '"':
		*p = T(d.Str())
	case 'n':
		d.literal("null")
	default:
		d.Fail()
	}
}

func Bool(d *Decoder, p *bool) {
	switch d.Peek() {
	case 't':
		d.literal("true")
		*p = true
	case 'f':
		d.literal("false")
		*p = false
	case 'n':
		d.literal("null")
	default:
		d.Fail()
	}
}

func Uint[T ~uint | ~uint16 | ~uint32 | ~uint64](d *Decoder, p *T) {
	if d.Null() {
		return
	}
	n := d.Uint64()
	if uint64(T(n)) != n { // out of T's range
		d.Fail()
	}
	*p = T(n)
}

func Int[T ~int | ~int32 | ~int64](d *Decoder, p *T) {
	if d.Null() {
		return
	}
	n := d.Int64()
	if int64(T(n)) != n {
		d.Fail()
	}
	*p = T(n)
}

// Ptr decodes into *p, allocating it if nil; null sets it to nil.
func Ptr[T any](d *Decoder, p **T, dec func(*Decoder, *T)) {
	if d.Null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(T)
	}
	dec(d, *p)
}

// Slice decodes an array as encoding/json does: null sets nil; elements
// are decoded into the existing ones (which matters only for a repeated
// key, where objects are merged and nulls keep the old element), extra
// ones are added, the slice is truncated to the array's length, and an
// empty array gives an empty non-nil slice. Elements between len and cap
// are reused too: they hold what an earlier, longer array left there,
// exactly as reflect.Value.SetLen exposes them to encoding/json.
func Slice[T any](d *Decoder, p *[]T, dec func(*Decoder, *T)) {
	if d.Null() {
		*p = nil
		return
	}
	v := *p
	i := 0
	for more := d.ArrStart(); more; more = d.ArrNext() {
		if i >= cap(v) {
			var zero T
			v = append(v, zero)
		} else if i >= len(v) {
			v = v[:i+1]
		}
		dec(d, &v[i])
		i++
	}
	if i < len(v) {
		v = v[:i]
	}
	if v == nil {
		v = []T{}
	}
	*p = v
}

// Map decodes an object into a map: null sets nil, otherwise members
// are added to the (possibly existing) map, each value decoded from zero.
func Map[V any](d *Decoder, p *map[string]V, dec func(*Decoder, *V)) {
	if d.Null() {
		*p = nil
		return
	}
	more := d.ObjStart()
	m := *p
	if m == nil {
		m = make(map[string]V)
		*p = m
	}
	for ; more; more = d.ObjNext() {
		k := d.Key()
		var v V
		dec(d, &v)
		m[k] = v
	}
}
