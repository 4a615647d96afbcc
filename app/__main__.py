import sys

from app.main import main

if __name__ == "__main__":  # not when a worker process (the N-1 check) imports the main module
    sys.exit(main())
