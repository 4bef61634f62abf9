/** Importing this module registers every experiment. */
import "./env/tiny";
import "./g2lstm/ptb";
import "./sg/ptb";
import "./sdropout/ptb";
import "./atn/synthetic";
import "./ncgru/synthetic";
import "./atn/char-ptb";
import "./ncgru/char-ptb";
