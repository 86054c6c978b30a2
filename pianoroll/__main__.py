from pianoroll.cli import main

raise SystemExit(main())
