package codec

// RequestHeader is the header in front of every request body.
//
// Header version 0 has the key, version and correlation ID; version 1 adds the client ID
// (always a classic nullable string, even in flexible requests); version 2 adds a
// tagged-field section. Which header version a request uses depends on whether its API
// version is flexible; package wire/api decides.
type RequestHeader struct {
	// APIKey identifies the request type.
	APIKey int16
	// APIVersion is the version of the request body.
	APIVersion int16
	// CorrelationID is echoed by the broker in the response header.
	CorrelationID int32
	// ClientID names the client in broker logs and quotas; nil is a null client ID.
	ClientID *string
	// UnknownTags holds tagged fields of header v2 (none are defined for clients).
	UnknownTags Tags
}

// AppendTo appends h encoded as header version headerVersion (0, 1 or 2).
func (h *RequestHeader) AppendTo(dst []byte, headerVersion int16) []byte {
	dst = AppendInt16(dst, h.APIKey)
	dst = AppendInt16(dst, h.APIVersion)
	dst = AppendInt32(dst, h.CorrelationID)
	if headerVersion >= 1 {
		dst = AppendNullableString(dst, h.ClientID, false)
	}
	if headerVersion >= 2 {
		dst = h.UnknownTags.AppendTagSection(dst)
	}
	return dst
}

// ReadFrom reads h as header version headerVersion from d.
func (h *RequestHeader) ReadFrom(d *Decoder, headerVersion int16) {
	h.APIKey = d.Int16()
	h.APIVersion = d.Int16()
	h.CorrelationID = d.Int32()
	h.ClientID = nil
	if headerVersion >= 1 {
		h.ClientID = d.NullableString(false)
	}
	h.UnknownTags = nil
	if headerVersion >= 2 {
		h.UnknownTags = d.SkipTags(nil)
	}
}

// ResponseHeader is the header in front of every response body. Version 0 is the
// correlation ID alone; version 1 adds a tagged-field section.
type ResponseHeader struct {
	// CorrelationID matches the response to its request.
	CorrelationID int32
	// UnknownTags holds tagged fields of header v1 (none are defined).
	UnknownTags Tags
}

// AppendTo appends h encoded as header version headerVersion (0 or 1).
func (h *ResponseHeader) AppendTo(dst []byte, headerVersion int16) []byte {
	dst = AppendInt32(dst, h.CorrelationID)
	if headerVersion >= 1 {
		dst = h.UnknownTags.AppendTagSection(dst)
	}
	return dst
}

// ReadFrom reads h as header version headerVersion from d.
func (h *ResponseHeader) ReadFrom(d *Decoder, headerVersion int16) {
	h.CorrelationID = d.Int32()
	h.UnknownTags = nil
	if headerVersion >= 1 {
		h.UnknownTags = d.SkipTags(nil)
	}
}
