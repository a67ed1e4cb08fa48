package specs

// A reflection-free decoder for config.json.
//
// encoding/json spends most of a cold decode building its per-type caches
// (struct fields, decoders) through reflection: ~2 ms of CPU and ~100 page
// faults the first time a process meets rspec.Spec, against ~50 µs for a
// second decode. husk decodes config.json once per short-lived "husk
// create", so it pays the cold cost every time. fastDecode walks the bytes
// once with a small scanner and one function per struct type
// (fastdecode_spec.go, fastdecode_linuxspec.go).
//
// The contract is narrow: when fastDecode reports ok, the result is
// exactly what json.Unmarshal(data, &rspec.Spec{}) produces (reflect.
// DeepEqual, checked by FuzzFastDecode). On anything it does not handle
// exactly - a syntax error, a type mismatch, an integer out of range, a
// key that only case-insensitively matches a field, a Windows/Solaris/VM/
// z/OS/FreeBSD section - it gives up and decode falls back to
// encoding/json, which also produces the precise error. So no error ever
// comes from this code; failing is always safe, only slower.
//
// The encoding/json (v1) behaviours matched here, beyond the obvious:
//   - null leaves a string, number, bool or non-pointer struct untouched
//     and sets a pointer, slice or map to nil;
//   - a repeated key decodes again into what the earlier one produced: a
//     struct or pointed-to struct is merged into, a map gets more entries,
//     and a slice reuses its elements (fdSlice);
//   - `[]` and `{}` give an empty non-nil slice or map;
//   - strings: escapes including \uXXXX and surrogate pairs, and invalid
//     UTF-8 or lone surrogates become U+FFFD;
//   - integers: an exponent or fraction (even 1.0) is a type error, as is
//     "-0" for an unsigned field, and overflow of the field's width.
//
// Failure is a panic with fdFail, recovered in fastDecode: it keeps every
// decoder a straight line of code instead of threading errors through ~40
// functions. Other panics (bugs) are not recovered.

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	rspec "github.com/opencontainers/runtime-spec/specs-go"
)

// fastDecode decodes config.json without reflection. ok is false for
// anything it does not decode exactly as encoding/json would (then the
// caller uses encoding/json, which also produces the precise error).
func fastDecode(data []byte) (s *rspec.Spec, ok bool) {
	// One copy of the whole document: strings without escapes are then
	// substrings of it instead of one allocation each.
	d := fdec{s: string(data)}
	defer func() {
		if ok {
			return
		}
		if r := recover(); r != nil {
			if _, mine := r.(fdFail); !mine {
				panic(r)
			}
		}
		s = nil
	}()
	if d.peek() != '{' { // encoding/json: a top-level null is a no-op, anything else a type error
		return nil, false
	}
	s = new(rspec.Spec)
	fdSpec(&d, s)
	d.ws()
	if d.pos != len(d.s) { // trailing data
		return nil, false
	}
	return s, true
}

// fdec reads JSON from s, one value at a time, starting at pos.
type fdec struct {
	s     string
	pos   int
	depth int // nesting of the unknown value skip is in
}

// fdFail is the panic value that makes fastDecode report !ok.
type fdFail struct{}

func (d *fdec) fail() { panic(fdFail{}) }

// maxSkipDepth bounds the nesting of skipped values. encoding/json
// rejects nesting deeper than 10000; staying far below that (the known
// structure adds less than 10 levels) means we never accept what it
// rejects. Deeper input is left to encoding/json.
const maxSkipDepth = 1000

// ws skips JSON whitespace.
func (d *fdec) ws() {
	for d.pos < len(d.s) {
		switch d.s[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at end of input (0 is
// never valid there, so callers treat it like any unexpected byte).
func (d *fdec) peek() byte {
	d.ws()
	if d.pos < len(d.s) {
		return d.s[d.pos]
	}
	return 0
}

// literal consumes word (true, false or null). What follows is checked by
// the caller's grammar: "nullx" fails at the 'x' as "{} x" would.
func (d *fdec) literal(word string) {
	if !strings.HasPrefix(d.s[d.pos:], word) {
		d.fail()
	}
	d.pos += len(word)
}

// null consumes a null if one comes next.
func (d *fdec) null() bool {
	if d.peek() != 'n' {
		return false
	}
	d.literal("null")
	return true
}

// objStart consumes '{' and reports whether a member follows. Loop:
//
//	for more := d.objStart(); more; more = d.objNext() { k := d.key(); ... }
func (d *fdec) objStart() bool {
	if d.peek() != '{' {
		d.fail()
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		return false
	}
	return true
}

// objNext consumes the ',' or '}' after a member.
func (d *fdec) objNext() bool {
	switch d.peek() {
	case ',':
		d.pos++
		return true
	case '}':
		d.pos++
		return false
	}
	d.fail()
	return false
}

// key reads a member's name and the ':' after it.
func (d *fdec) key() string {
	if d.peek() != '"' {
		d.fail()
	}
	k := d.string()
	if d.peek() != ':' {
		d.fail()
	}
	d.pos++
	return k
}

// arrStart and arrNext are objStart and objNext for arrays.
func (d *fdec) arrStart() bool {
	if d.peek() != '[' {
		d.fail()
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		return false
	}
	return true
}

func (d *fdec) arrNext() bool {
	switch d.peek() {
	case ',':
		d.pos++
		return true
	case ']':
		d.pos++
		return false
	}
	d.fail()
	return false
}

// string reads the string literal at pos (which holds its '"').
func (d *fdec) string() string {
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
	d.fail()
	return ""
}

// stringSlow is string for literals with escapes or non-ASCII bytes,
// following encoding/json's unquote: the result is a substring when
// nothing needs rewriting, otherwise built in buf from the first escape
// or invalid byte on.
func (d *fdec) stringSlow(start int) string {
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
			d.fail()
		case c == '\\':
			if buf == nil {
				buf = append(make([]byte, 0, i-start+16), s[start:i]...)
			}
			i++
			if i >= len(s) {
				d.fail()
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
					d.fail()
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
				d.fail()
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
	d.fail()
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
func (d *fdec) number() (neg bool, digits string, integer bool) {
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
		d.fail()
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
func (d *fdec) digits(i int) int {
	j := i
	for j < len(d.s) && '0' <= d.s[j] && d.s[j] <= '9' {
		j++
	}
	if j == i {
		d.fail()
	}
	return j
}

// uint64 reads a non-negative integer, as strconv.ParseUint would accept
// it (so not "-0").
func (d *fdec) uint64() uint64 {
	neg, digits, integer := d.number()
	if neg || !integer {
		d.fail()
	}
	return d.magnitude(digits)
}

// int64 reads an integer, as strconv.ParseInt would accept it.
func (d *fdec) int64() int64 {
	neg, digits, integer := d.number()
	if !integer {
		d.fail()
	}
	m := d.magnitude(digits)
	if neg {
		if m > 1<<63 {
			d.fail()
		}
		return -int64(m) // m == 1<<63 wraps to math.MinInt64, as wanted
	}
	if m > 1<<63-1 {
		d.fail()
	}
	return int64(m)
}

func (d *fdec) magnitude(digits string) uint64 {
	var n uint64
	for _, c := range []byte(digits) {
		v := uint64(c - '0')
		if n > (1<<64-1-v)/10 {
			d.fail()
		}
		n = n*10 + v
	}
	return n
}

// skip consumes a value of any type, checking its syntax: encoding/json
// validates the whole document before decoding, so an unknown member with
// a malformed value is an error there too.
func (d *fdec) skip() {
	switch d.peek() {
	case '{':
		d.nest()
		for more := d.objStart(); more; more = d.objNext() {
			d.key()
			d.skip()
		}
		d.depth--
	case '[':
		d.nest()
		for more := d.arrStart(); more; more = d.arrNext() {
			d.skip()
		}
		d.depth--
	case '"':
		d.string()
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

func (d *fdec) nest() {
	d.depth++
	if d.depth > maxSkipDepth {
		d.fail()
	}
}

// unknown skips the value of a member that is not one of the struct's
// fields. encoding/json matches names case-insensitively (with Unicode
// folding such as "ſ" for "s"); keys that would match that way are left
// to it, as are non-ASCII keys, rather than reimplementing the folding.
func (d *fdec) unknown(key string, fields []string) {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			d.fail()
		}
	}
	for _, f := range fields {
		if strings.EqualFold(key, f) {
			d.fail()
		}
	}
	d.skip()
}

// Decoders of values, one per Go type, all with the same shape so that the
// generic fdPtr, fdSlice and fdMap can take them.

func fdString[T ~string](d *fdec, p *T) {
	switch d.peek() {
	case '"':
		*p = T(d.string())
	case 'n':
		d.literal("null")
	default:
		d.fail()
	}
}

func fdBool(d *fdec, p *bool) {
	switch d.peek() {
	case 't':
		d.literal("true")
		*p = true
	case 'f':
		d.literal("false")
		*p = false
	case 'n':
		d.literal("null")
	default:
		d.fail()
	}
}

func fdUint[T ~uint | ~uint16 | ~uint32 | ~uint64](d *fdec, p *T) {
	if d.null() {
		return
	}
	n := d.uint64()
	if uint64(T(n)) != n { // out of T's range
		d.fail()
	}
	*p = T(n)
}

func fdInt[T ~int | ~int32 | ~int64](d *fdec, p *T) {
	if d.null() {
		return
	}
	n := d.int64()
	if int64(T(n)) != n {
		d.fail()
	}
	*p = T(n)
}

// fdPtr decodes into *p, allocating it if nil; null sets it to nil.
func fdPtr[T any](d *fdec, p **T, dec func(*fdec, *T)) {
	if d.null() {
		*p = nil
		return
	}
	if *p == nil {
		*p = new(T)
	}
	dec(d, *p)
}

// fdSlice decodes an array as encoding/json does: null sets nil; elements
// are decoded into the existing ones (which matters only for a repeated
// key, where objects are merged and nulls keep the old element), extra
// ones are added, the slice is truncated to the array's length, and an
// empty array gives an empty non-nil slice. Elements between len and cap
// are reused too: they hold what an earlier, longer array left there,
// exactly as reflect.Value.SetLen exposes them to encoding/json.
func fdSlice[T any](d *fdec, p *[]T, dec func(*fdec, *T)) {
	if d.null() {
		*p = nil
		return
	}
	v := *p
	i := 0
	for more := d.arrStart(); more; more = d.arrNext() {
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

// fdMap decodes an object into a map: null sets nil, otherwise members
// are added to the (possibly existing) map, each value decoded from zero.
func fdMap[V any](d *fdec, p *map[string]V, dec func(*fdec, *V)) {
	if d.null() {
		*p = nil
		return
	}
	more := d.objStart()
	m := *p
	if m == nil {
		m = make(map[string]V)
		*p = m
	}
	for ; more; more = d.objNext() {
		k := d.key()
		var v V
		dec(d, &v)
		m[k] = v
	}
}
