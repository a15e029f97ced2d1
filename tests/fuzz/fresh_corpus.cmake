# Makes WORK/corpus a fresh copy of the seed corpus SEEDS, for a fuzz run
# that may add inputs to it. Crash artifacts also land in WORK.
# Invoked as: cmake -DSEEDS=<dir> -DWORK=<dir> -P fresh_corpus.cmake
if(NOT SEEDS OR NOT WORK)
  message(FATAL_ERROR "fresh_corpus.cmake needs -DSEEDS=... and -DWORK=...")
endif()
file(REMOVE_RECURSE "${WORK}/corpus")
file(MAKE_DIRECTORY "${WORK}/corpus")
file(GLOB seeds "${SEEDS}/*")
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
