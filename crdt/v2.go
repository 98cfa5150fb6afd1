package crdt

func newV2Encoder() updateEncoder { panic("v2 not implemented") }

func newV2Decoder(b []byte) (updateDecoder, error) { return nil, errMalformed("v2 not implemented") }
