//! Requests decoded as Redis reads them, errors with Redis's texts, and
//! replies encoded as Redis writes them.

use super::*;

fn decode_all(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<String>) {
    let mut codec = ServerCodec::client();
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(req)) => out.push(req),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

fn args(v: &[&str]) -> Vec<Bytes> {
    v.iter().map(|s| Bytes::from(s.to_string())).collect()
}

#[test]
fn multibulk_and_inline_requests_decode() {
    let (reqs, err) =
        decode_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\n*-1\r\nset a 'x y'\r\n");
    assert_eq!(err, None);
    assert_eq!(
        reqs,
        vec![
            args(&["GET", "k"]),
            args(&["PING"]),
            args(&["set", "a", "x y"])
        ]
    );
}

#[test]
fn partial_requests_wait_for_more() {
    let full = b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
    for cut in 0..full.len() {
        let (reqs, err) = decode_all(&full[..cut]);
        assert!(reqs.is_empty() && err.is_none(), "cut at {cut}");
    }
}

#[test]
fn malformed_requests_get_redis_error_texts() {
    let cases: &[(&[u8], &str)] = &[
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (
            b"*99999999999\r\n",
            "Protocol error: invalid multibulk length",
        ),
        (b"*2\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        (b"*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"),
        (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
        (
            b"*1\r\n$536870913\r\n",
            "Protocol error: invalid bulk length",
        ),
        (
            b"set a \"b c\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, want) in cases {
        let (_, err) = decode_all(input);
        assert_eq!(
            err.as_deref(),
            Some(*want),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn a_request_fed_byte_by_byte_decodes_once_whole() {
    let mut codec = ServerCodec::client();
    let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for &b in full {
        buf.put_u8(b);
        while let Some(req) = codec.decode(&mut buf).unwrap() {
            got.push(req);
        }
    }
    assert_eq!(got, vec![args(&["SET", "k", "hello"]), args(&["PING"])]);
    assert!(buf.is_empty());
}

#[test]
fn huge_declared_bulk_within_the_cap_allocates_nothing_up_front() {
    let mut codec = ServerCodec::client();
    let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nabc"[..]);
    assert!(
        codec
            .decode(&mut buf)
            .expect("well-formed so far")
            .is_none()
    );
    assert!(buf.capacity() < 1024 * 1024);
}

#[test]
fn overlong_lines_are_refused() {
    let mut long = vec![b'a'; MAX_INLINE + 1];
    assert!(
        decode_all(&long)
            .1
            .unwrap()
            .contains("too big inline request")
    );
    long[0] = b'*';
    long[1..].fill(b'1');
    assert!(
        decode_all(&long)
            .1
            .unwrap()
            .contains("too big mbulk count string")
    );
}

#[test]
fn replies_encode_like_redis() {
    let mut codec = ServerCodec::client();
    let mut buf = BytesMut::new();
    for r in [
        Reply::ok(),
        Reply::int(-3),
        Reply::nil(),
        Reply::NullArray,
        Reply::Array(vec![Reply::NullArray, Reply::bulk(Bytes::from("x"))]),
        Reply::error("ERR a\r\nb".into()),
    ] {
        codec.encode(r, &mut buf).unwrap();
    }
    assert_eq!(
        &buf[..],
        b"+OK\r\n:-3\r\n$-1\r\n*-1\r\n*2\r\n*-1\r\n$1\r\nx\r\n-ERR a  b\r\n"
    );
}
