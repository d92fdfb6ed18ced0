//! Frames cut to their declared length, and no input that panics the codec.

use super::*;
use bytes::BufMut;
use proptest::prelude::*;

fn typed(kind: u8, body: &[u8]) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u8(kind);
    b.put_u32(u32::try_from(body.len() + 4).expect("small"));
    b.put_slice(body);
    b
}

#[test]
fn startup_packet_and_ssl_request() {
    let mut c = Codec::new();
    let mut b = BytesMut::new();
    b.put_u32(8);
    b.put_u32(SSL_REQUEST);
    let params = b"user\0sundown\0database\0db\0\0";
    b.put_u32(u32::try_from(8 + params.len()).expect("small"));
    b.put_u32(196_608);
    b.put_slice(params);
    assert_eq!(c.decode(&mut b).expect("ssl"), Some(Frontend::SslRequest));
    assert_eq!(
        c.decode(&mut b).expect("startup"),
        Some(Frontend::Startup {
            major: 3,
            minor: 0,
            params: vec![
                ("user".into(), "sundown".into()),
                ("database".into(), "db".into())
            ]
        })
    );
    assert!(b.is_empty());
}

#[test]
fn messages_are_cut_to_their_frame() {
    let mut c = Codec::new();
    c.started();
    let mut b = typed(b'Q', b"SELECT 1\0");
    b.extend_from_slice(&typed(b'S', b""));
    b.extend_from_slice(&typed(b'E', b"\0\0\0\0\x05"));
    assert_eq!(
        c.decode(&mut b).expect("query"),
        Some(Frontend::Query("SELECT 1".into()))
    );
    assert_eq!(c.decode(&mut b).expect("sync"), Some(Frontend::Sync));
    assert_eq!(
        c.decode(&mut b).expect("execute"),
        Some(Frontend::Execute {
            portal: String::new(),
            max_rows: 5
        })
    );
    // A Bind whose parameter claims more bytes than its frame has.
    let mut b = typed(b'B', b"\0\0\0\0\0\x01\0\0\0\x09ab\0\0");
    assert!(matches!(
        c.decode(&mut b),
        Err(ProtocolError::Format("Bind"))
    ));
    // A Query without its terminator reads nothing beyond its frame.
    let mut b = typed(b'Q', b"SELECT 1");
    b.extend_from_slice(&typed(b'Q', b"x\0"));
    assert!(c.decode(&mut b).is_err());
    let mut b = typed(b'p', b"");
    b[4] = 3;
    assert!(matches!(
        c.decode(&mut b),
        Err(ProtocolError::Length(3, 'p'))
    ));
}

proptest! {
    #[test]
    fn any_bytes_decode_without_panicking(started: bool, data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut c = Codec::new();
        if started {
            c.started();
        }
        let mut b = BytesMut::from(&data[..]);
        while let Ok(Some(_)) = c.decode(&mut b) {}
    }

    #[test]
    fn typed_frames_with_random_bodies(kind in proptest::sample::select(b"QPBDECSHXpdcf?".to_vec()), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut c = Codec::new();
        c.started();
        let mut b = typed(kind, &body);
        let _ = c.decode(&mut b);
    }
}
