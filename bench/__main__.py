import sys

if sys.argv[1:2] == ["s3"]:  # python -m bench s3: blob removal on S3 (bench/s3.py)
    from bench.s3 import main as s3_main

    raise SystemExit(s3_main(sys.argv[2:]))

from bench.run import main

raise SystemExit(main())
