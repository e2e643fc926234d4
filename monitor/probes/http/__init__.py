"""The HTTP probe kind: the probe (`probe`), the lean HTTP/1.1 client it speaks through
(`wire`), and the expectations a reply is judged by (`expect`)."""
