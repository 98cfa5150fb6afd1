package crdt

import (
	"math"
	"unicode/utf8"

	"github.com/yardhq/yard/crdt/lib0"
)

// updateDecoder reads what updateEncoder writes, in either format.
type updateDecoder interface {
	rest() *lib0.Decoder
	readLeftID() (ID, error)
	readRightID() (ID, error)
	readClient() (uint64, error)
	readInfo() (byte, error)
	readString() (string, error)
	readStringBytes() ([]byte, error)
	readParentInfo() (bool, error)
	readTypeRef() (uint64, error)
	readLen() (uint64, error)
	readAny() (any, error)
	readBuf() ([]byte, error)
	readJSON() (any, error)
	readKey() (string, error)
	resetDsCurVal()
	readDsClock() (uint64, error)
	readDsLen() (uint64, error)
	// structBudget bounds how many structs the input can justify.
	structBudget() int
}

type v1Decoder struct{ d lib0.Decoder }

func newV1Decoder(b []byte) *v1Decoder {
	v := &v1Decoder{}
	v.d.Reset(b)
	return v
}

func (v *v1Decoder) rest() *lib0.Decoder { return &v.d }

func (v *v1Decoder) readLeftID() (ID, error) {
	c, err := v.d.ReadVarUint()
	if err != nil {
		return ID{}, err
	}
	k, err := v.d.ReadVarUint()
	return ID{c, k}, err
}

func (v *v1Decoder) readRightID() (ID, error) { return v.readLeftID() }

func (v *v1Decoder) readClient() (uint64, error) { return v.d.ReadVarUint() }

func (v *v1Decoder) readInfo() (byte, error) { return v.d.ReadUint8() }

func (v *v1Decoder) readString() (string, error) { return v.d.ReadVarString() }

func (v *v1Decoder) readTypeRef() (uint64, error) { return v.d.ReadVarUint() }

func (v *v1Decoder) readLen() (uint64, error) { return v.d.ReadVarUint() }

func (v *v1Decoder) readAny() (any, error) { return v.d.ReadAny() }

func (v *v1Decoder) readKey() (string, error) { return v.d.ReadVarString() }

func (v *v1Decoder) resetDsCurVal() {}

func (v *v1Decoder) readDsClock() (uint64, error) { return v.d.ReadVarUint() }

func (v *v1Decoder) readDsLen() (uint64, error) { return v.d.ReadVarUint() }

func (v *v1Decoder) structBudget() int { return v.d.Remaining() }

func (v *v1Decoder) readParentInfo() (bool, error) {
	p, err := v.d.ReadVarUint()
	return p == 1, err
}

func (v *v1Decoder) readStringBytes() ([]byte, error) {
	b, err := v.d.ReadVarUint8Array()
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, errMalformed("invalid UTF-8 in string content")
	}
	return append([]byte(nil), b...), nil
}

func (v *v1Decoder) readBuf() ([]byte, error) {
	b, err := v.d.ReadVarUint8Array()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

func (v *v1Decoder) readJSON() (any, error) {
	s, err := v.d.ReadVarString()
	if err != nil {
		return nil, err
	}
	return lib0.ParseJSON(s)
}

// v2Decoder reads the v2 format. Column values out of range (negative or
// beyond 2^53) are errors rather than JavaScript's silent coercions.
type v2Decoder struct {
	restD      *lib0.Decoder
	dsCurrVal  uint64
	keys       []string
	keyClockD  *lib0.IntDiffOptRleDecoder
	clientD    *lib0.UintOptRleDecoder
	leftClockD *lib0.IntDiffOptRleDecoder
	rightClkD  *lib0.IntDiffOptRleDecoder
	infoD      *lib0.RleDecoder
	stringD    *lib0.StringDecoder
	parentD    *lib0.RleDecoder
	typeRefD   *lib0.UintOptRleDecoder
	lenD       *lib0.UintOptRleDecoder
	budget     int
}

func newV2Decoder(b []byte) (*v2Decoder, error) {
	d := lib0.NewDecoder(b)
	if _, err := d.ReadVarUint(); err != nil {
		return nil, wrapMalformed(err)
	}
	var cols [9][]byte
	for i := range cols {
		c, err := d.ReadVarUint8Array()
		if err != nil {
			return nil, wrapMalformed(err)
		}
		cols[i] = c
	}
	sd, err := lib0.NewStringDecoder(cols[5])
	if err != nil {
		return nil, wrapMalformed(err)
	}
	return &v2Decoder{
		restD:      d,
		keyClockD:  lib0.NewIntDiffOptRleDecoder(cols[0]),
		clientD:    lib0.NewUintOptRleDecoder(cols[1]),
		leftClockD: lib0.NewIntDiffOptRleDecoder(cols[2]),
		rightClkD:  lib0.NewIntDiffOptRleDecoder(cols[3]),
		infoD:      lib0.NewRleDecoder(cols[4]),
		stringD:    sd,
		parentD:    lib0.NewRleDecoder(cols[6]),
		typeRefD:   lib0.NewUintOptRleDecoder(cols[7]),
		lenD:       lib0.NewUintOptRleDecoder(cols[8]),
		// Runs let a v2 update describe many structs in few bytes; bound
		// them by the input size so tiny input cannot demand huge memory.
		budget: 4*len(b) + 1024,
	}, nil
}

func clockFrom(v int64, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	if v < 0 || v > maxClock {
		return 0, errMalformed("clock %d out of range", v)
	}
	return uint64(v), nil
}

func (v *v2Decoder) rest() *lib0.Decoder { return v.restD }

func (v *v2Decoder) readLeftID() (ID, error) {
	c, err := v.clientD.Read()
	if err != nil {
		return ID{}, err
	}
	k, err := clockFrom(v.leftClockD.Read())
	return ID{c, k}, err
}

func (v *v2Decoder) readRightID() (ID, error) {
	c, err := v.clientD.Read()
	if err != nil {
		return ID{}, err
	}
	k, err := clockFrom(v.rightClkD.Read())
	return ID{c, k}, err
}

func (v *v2Decoder) readClient() (uint64, error) { return v.clientD.Read() }

func (v *v2Decoder) readInfo() (byte, error) { return v.infoD.Read() }

func (v *v2Decoder) readString() (string, error) { return v.stringD.Read() }

func (v *v2Decoder) readStringBytes() ([]byte, error) {
	s, err := v.stringD.Read()
	return []byte(s), err
}

func (v *v2Decoder) readParentInfo() (bool, error) {
	p, err := v.parentD.Read()
	return p == 1, err
}

func (v *v2Decoder) readTypeRef() (uint64, error) { return v.typeRefD.Read() }

func (v *v2Decoder) readLen() (uint64, error) { return v.lenD.Read() }

func (v *v2Decoder) readAny() (any, error) { return v.restD.ReadAny() }

func (v *v2Decoder) readBuf() ([]byte, error) {
	b, err := v.restD.ReadVarUint8Array()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

func (v *v2Decoder) readJSON() (any, error) { return v.restD.ReadAny() }

func (v *v2Decoder) readKey() (string, error) {
	kc, err := v.keyClockD.Read()
	if err != nil {
		return "", err
	}
	if kc >= 0 && kc < int64(len(v.keys)) {
		return v.keys[kc], nil
	}
	k, err := v.stringD.Read()
	if err != nil {
		return "", err
	}
	if len(v.keys) < math.MaxInt32 {
		v.keys = append(v.keys, k)
	}
	return k, nil
}

func (v *v2Decoder) resetDsCurVal() { v.dsCurrVal = 0 }

func (v *v2Decoder) readDsClock() (uint64, error) {
	d, err := v.restD.ReadVarUint()
	if err != nil {
		return 0, err
	}
	v.dsCurrVal += d
	if v.dsCurrVal > maxClock {
		return 0, errMalformed("delete set clock out of range")
	}
	return v.dsCurrVal, nil
}

func (v *v2Decoder) readDsLen() (uint64, error) {
	d, err := v.restD.ReadVarUint()
	if err != nil {
		return 0, err
	}
	v.dsCurrVal += d + 1
	if v.dsCurrVal > maxClock {
		return 0, errMalformed("delete set length out of range")
	}
	return d + 1, nil
}

func (v *v2Decoder) structBudget() int { return v.budget }
