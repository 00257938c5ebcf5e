from request_dse.cli import main

main()
